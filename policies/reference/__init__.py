"""The neural reference policy: a small Llama-block transformer trained on scripted demonstrations."""
