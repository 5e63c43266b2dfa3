"""The torch-free ground every other package stands on: tokens, spans, vocabularies, lexicons, files, settings."""
