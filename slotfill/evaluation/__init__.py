"""Scoring a tagger: metrics, intents, calibration, reports, figures, run comparison and the model card."""
