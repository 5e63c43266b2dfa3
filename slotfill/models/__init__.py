"""Neural network pieces: encoder, CRF and the slot-filling network."""

from .crf import CRF, bio_allowed, viterbi
from .net import NetConfig, SlotNet, decode_intents, decode_tags

__all__ = ["CRF", "NetConfig", "SlotNet", "bio_allowed", "decode_intents", "decode_tags", "viterbi"]
