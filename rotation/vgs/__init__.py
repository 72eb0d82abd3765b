"""The VGS client layer: the only code in the project that speaks VGS HTTP."""

from rotation.vgs import errors
from rotation.vgs.accounts import AccountsClient, CreatedServiceAccount, ServiceAccount
from rotation.vgs.endpoints import VGSEndpoints, check_url
from rotation.vgs.http import RetryPolicy, VGSHttp
from rotation.vgs.probes import CMPProbe, VaultApiProbe
from rotation.vgs.secret import Secret
from rotation.vgs.token_cache import CachedAuth, TokenCache, TokenKey
from rotation.vgs.tokens import AccessToken, CachedTokenAuth, ClientCredentials, TokenClient, TokenClients
from rotation.vgs.vault_credentials import (
    AccessCredential,
    CreatedAccessCredential,
    VaultCredentialsClient,
)

__all__ = [
    "AccessCredential",
    "AccessToken",
    "AccountsClient",
    "CMPProbe",
    "CachedAuth",
    "CachedTokenAuth",
    "ClientCredentials",
    "CreatedAccessCredential",
    "CreatedServiceAccount",
    "RetryPolicy",
    "Secret",
    "ServiceAccount",
    "TokenCache",
    "TokenClient",
    "TokenClients",
    "TokenKey",
    "VGSEndpoints",
    "VGSHttp",
    "VaultApiProbe",
    "VaultCredentialsClient",
    "check_url",
    "errors",
]
