"""QAGen training (Nan et al. 2021): examples from QA data (:mod:`examples`), the trainable model
(:mod:`model`), the Trainer run (:mod:`trainer`), held-out evaluation (:mod:`eval`); settings in
:mod:`config`."""
