"""go-plugin transport: handshake, automatic mTLS, gRPC server and broker (no VGS here)."""
