"""What VGS knows about the credential to adopt, read through the manager, and the proof
that the given secret works.

Only reads: listing service accounts or a vault's access credentials with the manager's
token, minting a token (or one HTTP Basic vault API call) with the given secret. Nothing at
VGS changes. A credential the manager cannot list is told apart from one that does not
exist by whether the given secret mints a token for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rotation.document import ManagerCredentials, SecretDocument
from rotation.issuers import SECRET_ANNOTATION, IssuerFactory
from rotation.onboarding.request import AdoptError
from rotation.vgs import (
    AccountsClient,
    CachedTokenAuth,
    ClientCredentials,
    Secret,
    TokenClient,
    VaultCredentialsClient,
    VGSEndpoints,
    VGSHttp,
    errors,
)
from rotation.vgs.accounts import MAX_ACCOUNTS_PER_ORGANIZATION
from rotation.vgs.vault_credentials import MAX_CREDENTIALS_PER_VAULT


@dataclass(frozen=True)
class Found:
    """The credential as VGS lists it (never its secret), and how full its container is."""

    kind: str
    ref: str
    container: str  # "organization AC..." or "vault tnt..."
    in_use: int  # credentials of this kind in the container, this one included
    limit: int
    vgs_name: str | None = None
    username: str | None = None
    scopes: tuple[str, ...] = ()
    optional_scopes: tuple[str, ...] = ()
    vaults: tuple[str, ...] = ()
    token_lifespan: int | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def owner_tag(self) -> str | None:
        """The secret tag of the rotation that created it, when one did."""
        return self.annotations.get(SECRET_ANNOTATION)

    def summary(self) -> str:
        if self.kind == "service-account":
            lifespan = f"{self.token_lifespan} s" if self.token_lifespan else "VGS's default"
            return (
                f"service account {self.ref} (name {self.vgs_name or '-'}; scopes {', '.join(self.scopes)}; "
                f"vaults {', '.join(self.vaults) or '-'}; token lifespan {lifespan}) in {self.container}"
            )
        return f"access credential {self.ref} (username {self.username}) in {self.container}"


class Discovery:
    """Reads at VGS with the manager's credentials (``manager_arn`` names them in errors)."""

    def __init__(self, endpoints: VGSEndpoints, manager: ManagerCredentials, manager_arn: str, http: VGSHttp) -> None:
        self.endpoints = endpoints
        self.manager = manager
        self.manager_arn = manager_arn
        self.manager_subject = f"the manager credential in {manager_arn}"
        self.http = http
        self.tokens = TokenClient(endpoints.token_url, http=http, allow_insecure_http=endpoints.allow_insecure_http)
        self.auth = CachedTokenAuth(self.tokens, ClientCredentials(manager.client_id, manager.client_secret))

    def _cannot_list(self, what: str, status: str) -> AdoptError:
        return AdoptError(
            f"the manager ({self.manager.client_id}, stored in {self.manager_arn}) cannot see {what}: VGS answered "
            f"{status}. Give the manager a scope that may list them (the emulator uses service-accounts:write and "
            "credentials:write), or store the right manager there",
            "refused",
        )

    def service_account(self, client_id: str, organization_id: str, secret: Secret, secret_subject: str) -> Found:
        if client_id == self.manager.client_id:
            raise AdoptError(
                f"{client_id} is the manager itself: a rotation would create its successor with it and then "
                "delete it. Adopt application credentials; keep the manager in its own secret",
                "invalid",
            )
        accounts = AccountsClient(
            self.endpoints.accounts_url, organization_id, auth=self.auth, http=self.http,
            allow_insecure_http=self.endpoints.allow_insecure_http,
        )  # fmt: skip
        container = f"organization {organization_id}"
        try:
            with errors.concerning(self.manager_subject):
                listed = accounts.list()
        except errors.Forbidden:
            raise self._cannot_list(f"the service accounts of {container}", "403") from None
        except errors.NotFound:
            raise AdoptError(
                f"{container} does not exist or the manager cannot see it (VGS answered 404): check "
                "--organization-id (or organization_id in the manager secret)",
                "not-found",
            ) from None
        account = next((a for a in listed if a.client_id == client_id), None)
        if account is None:
            raise self._missing_account(client_id, container, secret, secret_subject)
        return Found(
            kind="service-account",
            ref=client_id,
            container=container,
            in_use=len(listed),
            limit=MAX_ACCOUNTS_PER_ORGANIZATION,
            vgs_name=account.name,
            scopes=tuple(s for s in account.scopes if s not in account.optional_scopes),
            optional_scopes=account.optional_scopes,
            vaults=account.vaults,
            token_lifespan=account.access_token_lifespan,
            annotations=dict(account.annotations),
        )

    def _missing_account(self, client_id: str, container: str, secret: Secret, secret_subject: str) -> AdoptError:
        """Not listed: does it exist elsewhere (the secret mints a token for it) or not at all?"""
        try:
            with errors.concerning(secret_subject):
                token = self.tokens.mint(ClientCredentials(client_id, secret))
        except errors.InvalidCredentials:
            return AdoptError(
                f"service account {client_id} does not exist in {container} (the manager does not list it, and "
                "the token server refuses it): check --client-id and --organization-id",
                "not-found",
            )
        if token.client_id not in (None, client_id):
            return AdoptError(
                f"the token server issued a token to {token.client_id!r} for client id {client_id!r}: "
                "check the token URL",
                "conflict",
            )
        return AdoptError(
            f"service account {client_id} exists (its secret mints a token) but the manager does not list it in "
            f"{container}: it belongs to another organization (check --organization-id) or the manager may not "
            "see it. The rotation manages credentials through the manager, so it must see them",
            "refused",
        )

    def access_credential(self, credential_id: str, vault_id: str) -> Found:
        vault = VaultCredentialsClient(
            self.endpoints.vault_management_url, vault_id, auth=self.auth, http=self.http,
            allow_insecure_http=self.endpoints.allow_insecure_http,
        )  # fmt: skip
        container = f"vault {vault_id}"
        try:
            with errors.concerning(self.manager_subject):
                listed = vault.list()
        except errors.Forbidden:
            raise self._cannot_list(f"the access credentials of {container}", "403") from None
        except errors.NotFound:
            raise AdoptError(
                f"{container} does not exist or the manager cannot see it (VGS answered 404): check --vault-id",
                "not-found",
            ) from None
        credential = next((c for c in listed if c.id == credential_id), None)
        if credential is None:
            raise AdoptError(
                f"access credential {credential_id} is not in {container} as the manager lists it: check "
                "--credential-id and --vault-id (the id, not the username)",
                "not-found",
            )
        return Found(
            kind="access-credentials",
            ref=credential_id,
            container=container,
            in_use=len(listed),
            limit=MAX_CREDENTIALS_PER_VAULT,
            username=credential.username,
            vaults=(vault_id,),
            annotations=dict(credential.annotations),
        )


def prove(
    doc: SecretDocument, manager: ManagerCredentials, issuers: IssuerFactory, secret_ref: str, secret_subject: str
) -> None:
    """Run the rotation's own testSecret checks on the document's credential, once: a token
    with the right ``azp`` and scopes (and the CMP probe when configured) for a service
    account, an authenticated vault API call for an access credential. What adopt writes
    is therefore what the first testSecret accepts."""
    issuer = issuers(doc, manager, secret_ref)
    try:
        with errors.concerning(secret_subject):
            issuer.test(doc)
    except errors.InvalidCredentials as exc:
        raise AdoptError(
            f"{secret_subject} does not work for {doc.credential_ref}: VGS refused it ({exc}). Give the current "
            "secret of this credential",
            "refused",
        ) from None
    except errors.TokenValidationError as exc:
        raise AdoptError(
            f"{doc.credential_ref} mints a token, but not the one the rotation expects ({exc}); nothing written",
            "conflict",
        ) from None
    except errors.Forbidden as exc:
        raise AdoptError(
            f"{doc.credential_ref} mints a token, but the CMP probe was refused ({exc}) although its scopes include "
            "cards:read; check the CMP URL, or adopt with --no-cmp-probe",
            "refused",
        ) from None
    finally:
        issuer.close()
