"""The user's npm configuration, read the way npm 11 reads it, without running npm.

`npm config get` costs ~150 ms; pinman only needs a few keys (the registry for a scope, its
credentials, a CA file, `fetch-timeout`), so the files are parsed here. Layers, highest first:
`npm_config_*` environment variables, the user config (`userconfig`, default `~/.npmrc`), the
global config (`globalconfig`, default `<prefix>/etc/npmrc`) and npm's own builtin `npmrc`. Like
npm, a scoped `@scope:registry` from any layer beats a plain `registry`. Workspace roots and
command-line flags are not considered.

Unlike npm, no project `.npmrc` is read, wherever pinman runs and whether or not the project is
trusted: a repository's `.npmrc` could name any registry and hand it `${ANTHROPIC_API_KEY}` as a
token. npm itself only does that when the user runs npm in that folder, and pinman's installs run
npm outside any project, so lookups and installs ask the same registry.

Values here can be credentials: `NpmConfig` never shows them in its repr, and a URL it returns
knows its `shown` form, with every value the environment supplied written back as `${NAME}`
(a token in a registry path must not reach a message or the registry cache).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path

from pinman.record import record
from urllib.parse import urlsplit

DEFAULT_REGISTRY = "https://registry.npmjs.org/"

# npm's env-replace.js: ${NAME} or ${NAME?} (empty when unset), with backslash escapes.
_MIN_SHOWN = 4  # a shorter value supplied by the environment is no secret (pinman.redact's rule)
_ENV_EXPR = re.compile(r"(?<!\\)(\\*)\$\{([^${}?]+)(\?)?\}")


def env_replace(text: str, environ: Mapping[str, str], used: dict[str, str] | None = None) -> str:
    """npm's `${NAME}` expansion; each value taken from `environ` is noted in `used` (value -> NAME)."""

    def repl(m: re.Match[str]) -> str:
        esc, name, modifier = m[1], m[2], m[3]
        if len(esc) % 2:
            return m[0][(len(esc) + 1) // 2 :]
        fallback = "" if modifier == "?" else f"${{{name}}}"
        value = environ.get(name, fallback)
        if used is not None and name in environ and len(value) >= _MIN_SHOWN:
            used[value] = name
        return esc[len(esc) // 2 :] + value

    return _ENV_EXPR.sub(repl, text)


def parse_ini(text: str) -> dict[str, str]:
    """Top-level `key = value` pairs of an npmrc, as the `ini` package reads them.

    Keys inside `[section]`s are not npm settings and are left out; `key[]` arrays keep their
    last value (pinman reads no list settings).
    """
    out: dict[str, str] = {}
    in_section = False
    for line in re.split(r"[\r\n]+", text):
        if not line.strip() or re.match(r"^\s*[;#]", line):
            continue
        m = re.match(r"^\[([^\]]*)\]\s*$|^([^=]+)(=(.*))?$", line)
        if not m:
            continue
        if m[1] is not None:
            in_section = True
            continue
        if in_section:
            continue
        key = _unsafe(m[2])
        if key.endswith("[]") and len(key) > 2:
            key = key[:-2]
        out[key] = _unsafe(m[4]) if m[3] else "true"
    return out


def _unsafe(val: str | None) -> str:
    """The `ini` package's value decoding: quotes, `\\;` escapes, `;`/`#` comments."""
    val = (val or "").strip()
    if len(val) >= 2 and val[0] == val[-1] and val[0] in "\"'":
        inner = val[1:-1]
        if val[0] == '"':
            import json

            try:
                decoded = json.loads(val)
                return decoded if isinstance(decoded, str) else str(decoded)
            except ValueError:
                return val
        return inner
    out, esc = [], False
    for c in val:
        if esc:
            out.append(c if c in "\\;#" else "\\" + c)
            esc = False
        elif c in ";#":
            break
        elif c == "\\":
            esc = True
        else:
            out.append(c)
    if esc:
        out.append("\\")
    return "".join(out).strip()


class Url(str):
    """A URL to send requests to, with `shown`: the same URL fit for messages and files."""

    shown: str

    def __new__(cls, url: str, shown: str) -> Url:
        obj = super().__new__(cls, url)
        obj.shown = shown
        return obj


@record
class NpmConfig:
    values: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold tokens
    sources: Mapping[str, str] = field(default_factory=dict)  # key -> file or "environment"
    expanded: Mapping[str, str] = field(default_factory=dict, repr=False)  # value -> ${NAME} it came from

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def registry_for(self, package: str) -> Url:
        """The registry `npm install package` talks to, ending in `/`."""
        scope = package.split("/", 1)[0] if package.startswith("@") else None
        url = (scope and self.values.get(f"{scope}:registry")) or self.values.get("registry")
        if not url or _scheme(url) not in ("http", "https"):
            url = DEFAULT_REGISTRY
        url = url if url.endswith("/") else url + "/"
        return Url(url, self.shown(url))

    def shown(self, text: str) -> str:
        """`text` with every value the environment supplied written back as `${NAME}`."""
        for value in sorted(self.expanded, key=len, reverse=True):  # none left half-replaced
            text = text.replace(value, f"${{{self.expanded[value]}}}")
        return text

    def auth_header(self, url: str) -> str | None:
        """The Authorization header npm-registry-fetch would send to `url`, if any."""
        key = _auth_key(url, self.values)
        if key is None:
            # npm keeps a top-level `_auth` for the default registry only
            if _nerf(url).startswith(_nerf(self.registry_for(""))) and self.values.get("_auth"):
                return f"Basic {self.values['_auth']}"
            return None
        token = self.values.get(f"{key}:_authToken")
        if token:
            return f"Bearer {token}"
        if self.values.get(f"{key}:_auth"):
            return f"Basic {self.values[f'{key}:_auth']}"
        user, pw = self.values.get(f"{key}:username"), self.values.get(f"{key}:_password")
        if user and pw:
            import base64  # only for a registry that takes a password

            password = base64.b64decode(pw).decode("utf-8", "replace")
            return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        return None

    def fetch_timeout(self) -> float | None:
        """npm's `fetch-timeout` (milliseconds) in seconds, when set to a positive number."""
        try:
            ms = float(self.values.get("fetch-timeout", ""))
        except ValueError:
            return None
        return ms / 1000 if 0 < ms < float("inf") else None

    def tls_verify(self) -> bool | str:
        """`requests`' verify= from npm's `strict-ssl` and `cafile`."""
        if self.values.get("strict-ssl", "true").lower() == "false":
            return False
        cafile = self.values.get("cafile")
        return cafile if cafile and Path(cafile).is_file() else True


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme
    except ValueError:  # e.g. "http://[::1": not a URL at all
        return ""


def _nerf(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path if parts.path.endswith("/") else parts.path.rsplit("/", 1)[0] + "/"
    return f"//{parts.netloc}{path}"


def _auth_key(url: str, values: Mapping[str, str]) -> str | None:
    """npm-registry-fetch's regFromURI: the longest `//host/path` with credentials for `url`."""
    parts = urlsplit(url)
    key = f"//{parts.netloc}{parts.path}"
    while len(key) > 2:
        if (
            values.get(f"{key}:_authToken")
            or values.get(f"{key}:_auth")
            or (values.get(f"{key}:username") and values.get(f"{key}:_password"))
        ):
            return key
        # walk up: drop what follows the last slash, or the slash itself
        key = re.sub(r"([^/]+|/)$", "", key)
    return None


def load_npm_config(environ: Mapping[str, str] | None = None) -> NpmConfig:
    """The user's and the global npm configuration (never a project's `.npmrc`: see above)."""
    env = dict(os.environ if environ is None else environ)
    used: dict[str, str] = {}
    layers: list[tuple[str, dict[str, str]]] = [("environment", _env_layer(env, used))]
    home = env.get("HOME") or str(Path.home())
    userconfig = os.path.expanduser(_pick("userconfig", layers) or os.path.join(home, ".npmrc"))
    layers.append((userconfig, _read(Path(userconfig), env, used)))
    # the user file may move the global one
    prefix = _pick("prefix", layers) or _default_prefix(env)
    globalconfig = _pick("globalconfig", layers) or os.path.join(prefix, "etc", "npmrc")
    layers.append((globalconfig, _read(Path(globalconfig), env, used)))
    builtin = Path(prefix) / "lib" / "node_modules" / "npm" / "npmrc"
    layers.append((str(builtin), _read(builtin, env, used)))

    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for source, layer in reversed(layers):  # lowest first, so higher layers overwrite
        for k, v in layer.items():
            values[k] = v
            sources[k] = source
    return NpmConfig(values, sources, used)


def _env_layer(env: Mapping[str, str], used: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, value in env.items():
        if not name.lower().startswith("npm_config_") or value == "":
            continue
        key = name[len("npm_config_") :]
        if not key.startswith("//"):  # nerf-darted keys are taken verbatim
            key = key[:1] + key[1:].replace("_", "-")
            key = key.lower()
        out[key] = env_replace(value, env, used)
    return out


def _read(path: Path, env: Mapping[str, str], used: dict[str, str]) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    return {env_replace(k, env, used): env_replace(v, env, used) for k, v in parse_ini(text).items()}


def _pick(key: str, layers: list[tuple[str, dict[str, str]]]) -> str:
    for _, layer in layers:
        if layer.get(key):
            return layer[key]
    return ""


def _default_prefix(env: Mapping[str, str]) -> str:
    """npm's default global prefix: $PREFIX, else two levels above the real node binary."""
    if env.get("PREFIX"):
        return env["PREFIX"]
    node = _which("node", env.get("PATH"))
    if not node:
        return "/usr/local"
    return str(Path(os.path.realpath(node)).parent.parent)


def _which(name: str, path: str | None) -> str | None:
    """`shutil.which(name, path=path)` for a plain name, without importing shutil (and with it
    the compression modules) on every read of the npm config."""
    folders = (os.environ.get("PATH") or os.defpath) if path is None else path
    for folder in folders.split(os.pathsep):
        candidate = os.path.join(folder or os.curdir, name)
        if os.access(candidate, os.F_OK | os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None
