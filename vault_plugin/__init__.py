"""A Vault/OpenBao secrets engine for VGS credentials (go-plugin v5 over grpclib)."""

__version__ = "v0.1.0"
