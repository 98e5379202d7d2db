"""FactCC (Kryscinski et al., EMNLP 2020): a claim-level consistency classifier trained on synthetic claims."""
