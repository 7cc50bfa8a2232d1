"""The console's forms (Flask-WTF: every one carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    ColorField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import EqualTo, InputRequired, Length, NumberRange, Regexp

from ..registry import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

PASSWORD_HINT = f"At least {MIN_PASSWORD_LENGTH} characters; a few unrelated words work well."
_password_length = Length(
    min=MIN_PASSWORD_LENGTH,
    max=MAX_PASSWORD_LENGTH,
    message=f"Use at least {MIN_PASSWORD_LENGTH} characters.",
)


def lines(text: str | None) -> list[str]:
    """The non-empty lines of a textarea (one origin or CIDR per line; commas work too)."""
    return [part.strip() for part in (text or "").replace(",", "\n").splitlines() if part.strip()]


class SignUpForm(FlaskForm):
    company = StringField("Company name", validators=[InputRequired(), Length(max=200)])
    email = EmailField("Email", validators=[InputRequired(), Length(max=320)])
    password = PasswordField(
        "Password", validators=[InputRequired(), _password_length], description=PASSWORD_HINT
    )
    confirm = PasswordField(
        "Confirm password",
        validators=[InputRequired(), EqualTo("password", message="The two passwords differ.")],
    )


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=1024)])


class CodeForm(FlaskForm):
    code = StringField(
        "Authentication code",
        validators=[
            InputRequired(),
            Regexp(r"^\s*\d{3}\s*\d{3}\s*$", message="Enter the 6 digits your app shows."),
        ],
        description="The 6-digit code from your authenticator app.",
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class ConsoleUserForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=320)])
    password = PasswordField(
        "Initial password",
        validators=[InputRequired(), _password_length],
        description="Share it with them in person or through a password manager.",
    )


_ORIGINS_HINT = "One exact origin per line, such as https://app.example.com (no path)."
_IPS_HINT = "Optional. Addresses or CIDR blocks, one per line, allowed to call the token endpoint."


class ClientForm(FlaskForm):
    name = StringField("Client name", validators=[InputRequired(), Length(max=200)])
    origins = TextAreaField(
        "Allowed origins", validators=[InputRequired()], description=_ORIGINS_HINT
    )
    ip_allowlist = TextAreaField("IP allowlist", description=_IPS_HINT)


class ClientSettingsForm(FlaskForm):
    origins = TextAreaField(
        "Allowed origins", validators=[InputRequired()], description=_ORIGINS_HINT
    )
    ip_allowlist = TextAreaField("IP allowlist", description=_IPS_HINT)


class NativeAppsForm(FlaskForm):
    native_enabled = BooleanField(
        "Allow native app WebViews",
        description="Your iOS, Android or React Native app opens /embed/<client_id>/native and "
        "hands it a code over a native bridge.",
    )
    native_fragment = BooleanField(
        "Also accept a code in the URL fragment (weaker)",
        description="For apps without a bridge: the code is not bound to the page's keys, so "
        "anyone who sees it within 60 s can use it once. Needs native app WebViews.",
    )


class RotateSecretForm(FlaskForm):
    grace = IntegerField(
        "Grace period (seconds)",
        validators=[InputRequired(), NumberRange(min=0, max=30 * 86400)],
        description="How long the current secret keeps working: time to deploy the new one.",
    )


class JwksForm(FlaskForm):
    jwks = TextAreaField(
        "Public JWKS",
        description='Your public keys as JSON: {"keys": [...]}. Leave empty to remove them.',
        render_kw={"rows": 8, "spellcheck": "false"},
    )


class BotForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    greeting = TextAreaField(
        "Greeting",
        validators=[InputRequired(), Length(max=2000)],
        default="Hi! How can I help?",
        description="The first message a user sees.",
    )
    fallback = TextAreaField(
        "Fallback message",
        validators=[InputRequired(), Length(max=2000)],
        default="Sorry, I don't know that one yet. Could you rephrase it?",
        description="What the bot says when no FAQ entry matches.",
    )
    access = SelectField(
        "Who may chat",
        choices=[
            SelectChoice("members", "Members only"),
            SelectChoice("all_users", "All your users"),
        ],
        default="members",
    )
    require_mfa = BooleanField(
        "Require MFA", description="Only users your backend vouches for with amr 'mfa'."
    )
    enabled = BooleanField("Enabled", default=True)
    accent = ColorField("Accent colour", default="#2563eb")
    background = ColorField("Background colour", default="#ffffff")


class FaqForm(FlaskForm):
    question = TextAreaField("Question", validators=[InputRequired(), Length(max=1000)])
    answer = TextAreaField("Answer", validators=[InputRequired(), Length(max=4000)])


class MemberForm(FlaskForm):
    partner_user_id = StringField(
        "Partner user id",
        validators=[InputRequired(), Length(max=255)],
        description="Your own id for the user, exactly as your backend sends it.",
    )
