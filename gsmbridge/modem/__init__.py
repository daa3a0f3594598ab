"""The modem layer: AT commands over pyserial, PDU encoding.  Qt-free, a leaf: it imports
only the standard library, pyserial and itself (tests/test_layering.py)."""
