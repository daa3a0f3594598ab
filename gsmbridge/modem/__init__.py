"""The modem layer: AT commands over pyserial, PDU encoding, a simulator.  Qt-free."""
