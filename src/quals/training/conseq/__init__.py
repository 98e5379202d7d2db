"""ConSeq (Nan et al., ACL-IJCNLP 2021): contrastive fine-tuning of a summarizer with QUALS.

Stages: :mod:`candidates` (sample summaries of the training documents), :mod:`selection` (score
them and pick S+ / S-, rule in :mod:`select`), :mod:`trainer` (the contrastive loss of :mod:`loss`
as a HF ``Trainer``). Settings: :mod:`config`. Torch loads only with the stage modules.
"""
