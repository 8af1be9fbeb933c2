"""The learned risk predictor: hidden states -> failure risk per horizon and per action dimension.

``dataset`` (memory-mapped over run directories), ``labels`` (the rules of
``docs/risk_labels.md``), ``validation`` (checked before any training),
``splits`` (by episode, task or init state), ``model``/``train``,
``evaluate`` beside ``baselines`` (the shortcuts), and ``source`` (the
registered ``learned`` risk source). See ``docs/risk_predictor.md``.
"""
