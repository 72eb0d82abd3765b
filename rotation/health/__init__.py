"""Health of rotated secrets: ``vgs-rotate doctor`` (one secret, before its first rotation
and any time after), its ``--canary``, and the fleet view ``vgs-rotate status --all``.

One small module per concern: ``checks`` (the result vocabulary), ``configuration``,
``hosts``, ``manager``, ``capacity``, ``credentials``, ``leftovers``, ``publication``,
``history``, ``canary``; ``doctor`` and ``fleet`` put them together. AWS is read through
``catalog`` (boto3 in ``aws_catalog`` only) and the rotation's ``SecretStore``; VGS through
the issuers and the ``rotation.vgs`` client; ``rotation.status.inspect`` through
``secret_view`` only.
"""
