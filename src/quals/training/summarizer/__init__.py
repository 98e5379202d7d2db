"""Summarizers: the text layout and loading (:mod:`model`), MLE fine-tuning (:mod:`mle`), the run
directory shared with ConSeq (:mod:`run`) and generation (:mod:`generate`); settings in :mod:`config`."""
