"""Setting up what a rotation needs: the manager secret in Secrets Manager
(:mod:`rotation.provision.manager`) and, for contributors and the local walk-through, a
local stack of the VGS emulator, moto's server and OpenBao (:mod:`rotation.provision.local_stack`).

Both are ``vgs-rotate`` commands (``bootstrap-manager``, ``local-stack``), so they work from
any directory after ``pip install``; ``python -m infra.aws.bootstrap_manager`` and
``python -m infra.local`` remain for a checkout."""
