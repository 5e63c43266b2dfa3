"""Adapters that put slotfill inside other systems' pipelines (spaCy; Rasa talks to ``slotfill serve``)."""
