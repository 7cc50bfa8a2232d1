"""Clients: create (the secret is shown once), list, origins and IPs, native apps, secret
rotation, JWKS."""

from __future__ import annotations

import json

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from .. import events, registry, strictjson
from ..extensions import db
from ..models import Client
from ..services import services
from . import bp, confirm
from .forms import (
    ClientForm,
    ClientSettingsForm,
    JwksForm,
    NativeAppsForm,
    RotateSecretForm,
    lines,
)
from .scope import customer_id, owned_client


@bp.get("/clients")
def clients() -> str:
    rows = db.session.execute(
        select(Client)
        .where(Client.customer_id == customer_id())
        .order_by(Client.created_at, Client.id)
    ).scalars()
    return render_template("console/clients.html", clients=list(rows))


@bp.route("/clients/new", methods=["GET", "POST"])
def new_client() -> ResponseReturnValue:
    form = ClientForm()
    if not form.validate_on_submit():
        return render_template("console/client_new.html", form=form), 400 if form.errors else 200
    try:
        client, secret = registry.create_client(
            registry.get_customer(customer_id()),
            form.name.data or "",
            lines(form.origins.data),
            lines(form.ip_allowlist.data),
        )
    except registry.RegistryError as exc:
        return render_template("console/client_new.html", form=form, error=str(exc)), 400
    # Rendered, not redirected: the secret must never sit in a cookie or a URL.
    return render_template("console/client_secret.html", client=client, secret=secret, new=True)


def _detail(
    client: Client,
    *,
    settings_form: ClientSettingsForm | None = None,
    native_form: NativeAppsForm | None = None,
    rotate_form: RotateSecretForm | None = None,
    jwks_form: JwksForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    if settings_form is None:
        settings_form = ClientSettingsForm(formdata=None)
        settings_form.origins.data = "\n".join(client.allowed_origins)
        settings_form.ip_allowlist.data = "\n".join(client.ip_allowlist or [])
    if native_form is None:
        native_form = NativeAppsForm(formdata=None)
        native_form.native_enabled.data = client.native_enabled
        native_form.native_fragment.data = client.allows_native_fragment
    if rotate_form is None:
        rotate_form = RotateSecretForm(formdata=None, grace=services().settings.client_secret_grace)
    if jwks_form is None:
        jwks_form = JwksForm(formdata=None)
        jwks_form.jwks.data = json.dumps(client.jwks, indent=2) if client.jwks else ""
    page = render_template(
        "console/client.html",
        client=client,
        settings_form=settings_form,
        native_form=native_form,
        native_url=f"{services().settings.issuer}/embed/{client.id}/native",
        rotate_form=rotate_form,
        jwks_form=jwks_form,
        error=error,
        exposure=events.unrotated_exposure(client.customer_id, client.id),
    )
    return page, status


@bp.get("/clients/<client_id>")
def client(client_id: str) -> ResponseReturnValue:
    return _detail(owned_client(client_id))


@bp.post("/clients/<client_id>")
def update_client(client_id: str) -> ResponseReturnValue:
    client = owned_client(client_id)
    form = ClientSettingsForm()
    if not form.validate_on_submit():
        return _detail(client, settings_form=form, status=400)
    try:
        registry.update_client(
            client, origins=lines(form.origins.data), ip_allowlist=lines(form.ip_allowlist.data)
        )
    except registry.RegistryError as exc:
        db.session.rollback()
        return _detail(client, settings_form=form, error=str(exc), status=400)
    flash("Allowed origins and IP allowlist saved.", "success")
    return redirect(url_for("console.client", client_id=client.id))


@bp.post("/clients/<client_id>/native")
def set_native_apps(client_id: str) -> ResponseReturnValue:
    client = owned_client(client_id)
    form = NativeAppsForm()
    if not form.validate_on_submit():
        return _detail(client, native_form=form, status=400)
    try:
        registry.update_client(
            client,
            native_enabled=bool(form.native_enabled.data),
            native_fragment=bool(form.native_fragment.data),
        )
    except registry.RegistryError as exc:
        db.session.rollback()
        return _detail(client, native_form=form, error=str(exc), status=400)
    flash("Native app settings saved.", "success")
    return redirect(url_for("console.client", client_id=client.id))


@bp.post("/clients/<client_id>/rotate-secret")
def rotate_secret(client_id: str) -> ResponseReturnValue:
    client = owned_client(client_id)
    form = RotateSecretForm()
    if not form.validate_on_submit():
        return _detail(client, rotate_form=form, status=400)
    secret = registry.rotate_client_secret(client, form.grace.data)
    return render_template(
        "console/client_secret.html", client=client, secret=secret, new=False, grace=form.grace.data
    )


@bp.post("/clients/<client_id>/jwks")
def set_jwks(client_id: str) -> ResponseReturnValue:
    client = owned_client(client_id)
    form = JwksForm()
    if not form.validate_on_submit():
        return _detail(client, jwks_form=form, status=400)
    text = (form.jwks.data or "").strip()
    try:
        jwks = strictjson.loads(text) if text else None
    except ValueError as exc:
        error = f"That is not JSON ({exc.args[0]}). Paste the JWKS document itself."
        return _detail(client, jwks_form=form, error=error, status=400)
    if jwks is not None and not isinstance(jwks, dict):
        error = 'A JWKS is a JSON object: {"keys": [...]}.'
        return _detail(client, jwks_form=form, error=error, status=400)
    try:
        registry.set_client_jwks(client, jwks)
    except registry.RegistryError as exc:
        db.session.rollback()
        return _detail(client, jwks_form=form, error=str(exc), status=400)
    flash("Public keys saved." if jwks else "Public keys removed.", "success")
    return redirect(url_for("console.client", client_id=client.id))


@bp.post("/clients/<client_id>/disable")
def disable_client(client_id: str) -> ResponseReturnValue:
    client = owned_client(client_id)
    if not confirm.confirmed():
        return confirm.ask(
            title=f"Disable {client.name}?",
            message="Your backend gets no more embed codes or management tokens with it, so no "
            "new chat starts on your site until you enable it again.",
            button="Disable client",
            cancel_url=url_for("console.client", client_id=client.id),
        )
    registry.update_client(client, enabled=False)
    flash(f"{client.name} is disabled: it gets no more codes or tokens.", "success")
    return redirect(url_for("console.client", client_id=client.id))


@bp.post("/clients/<client_id>/enable")
def enable_client(client_id: str) -> ResponseReturnValue:
    client = registry.update_client(owned_client(client_id), enabled=True)
    flash(f"{client.name} is enabled again.", "success")
    return redirect(url_for("console.client", client_id=client.id))
