"""Statistics that can say yes or no: paired exact tests, multiplicity, power, sequential stopping, pre-registration.

A ground-floor package: it imports only numpy, scipy, :mod:`mistvla.harness.errors`
and :mod:`mistvla.harness.typed`, so the report, the planner and the scheduler
can all use it. One concept per module (see ``docs/statistics.md``):

* :mod:`.mcnemar`      exact McNemar test on paired binary outcomes
* :mod:`.multiplicity` Holm-Bonferroni adjusted p-values across a table's rows
* :mod:`.power`        power and sample size of the paired design (exact McNemar)
* :mod:`.rates`        discordance rates: from an effect, a pilot, or stated assumptions
* :mod:`.eprocess`     the beta-mixture e-process of one paired question
* :mod:`.confseq`      confidence sequence for the discordance split
* :mod:`.sequential`   ``SequentialMonitor``: several questions, Bonferroni, min/max units
* :mod:`.intervals`    Wilson and cluster-bootstrap intervals of rates and paired deltas
* :mod:`.simulate`     Monte Carlo studies validating power and the sequential rule
* :mod:`.config`       the ``stopping:`` and ``power:`` config blocks
* :mod:`.prereg`       the ``prereg.json`` record and confirmatory/exploratory labels
"""
