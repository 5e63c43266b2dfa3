"""The trained model: the network (encoder, CRF, heads), ``SlotModel`` (save, load, decode), encoding, ONNX export."""

from slotfill.models.crf import CRF, bio_allowed, viterbi
from slotfill.models.net import NetConfig, SlotNet, decode_intents, decode_tags

__all__ = ["CRF", "NetConfig", "SlotNet", "bio_allowed", "decode_intents", "decode_tags", "viterbi"]
