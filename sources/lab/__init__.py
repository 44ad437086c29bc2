"""The emergence lab: a model ladder the lake trains itself (config, corpus, training, rows)."""
