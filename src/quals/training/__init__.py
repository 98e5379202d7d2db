"""Training: QAGen and summarizers (MLE and ConSeq)."""
