"""Cell maps, rendezvous placement and broker targets, as the C++ clients have them
(shared/cells/cell_map.*, rendezvous.*, broker_targets.*).

A cell map lists one broker per line as ``NAME ENDPOINT [PUBLIC_KEY_FILE]``; blank lines and
``#`` comments are ignored; either every cell names a key file (CURVE on) or none does; a
relative key path is read relative to the map's own directory.

A message's cell is chosen by rendezvous hashing of its id: every cell scores (name, id) with
FNV-1a over the name, a 0 byte and the id, then the SplitMix64 finalizer; the cells in falling
score order (ties by name) are the id's preference list. This is part of the protocol between
publishers: a Python publisher picks the same cell as mandrill-publish for the same id.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from .errors import ConfigurationError
from .keys import KeyPair, load_client_keys, read_public_key, read_secret_key

_MASK = (1 << 64) - 1
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")


@dataclass(frozen=True)
class Cell:
    name: str
    endpoint: str
    public_key_file: str = ""  # empty when the map names no keys


def _fnv(h: int, data: bytes) -> int:
    for c in data:
        h = ((h ^ c) * _FNV_PRIME) & _MASK
    return h


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _name_state(cell_name: str) -> int:
    # FNV-1a of the name, then of one 0 byte (the xor is a no-op: the multiply alone).
    return (_fnv(_FNV_OFFSET, cell_name.encode()) * _FNV_PRIME) & _MASK


def rendezvous_score(cell_name: str, message_id: str) -> int:
    return _mix(_fnv(_name_state(cell_name), message_id.encode()))


class Rendezvous:
    """Ranks cells for ids; keeps each name's hash state so an id costs one pass per cell."""

    def __init__(self, names):
        self.names = list(names)
        self._states = [_name_state(n) for n in self.names]

    def scores(self, message_id: str):
        data = message_id.encode()
        return [_mix(_fnv(s, data)) for s in self._states]

    def order(self, message_id: str):
        """Indices into names, highest score first (ties by name)."""
        scores = self.scores(message_id)
        names = self.names
        return sorted(range(len(names)), key=lambda i: (-scores[i], names[i]))

    def first(self, message_id: str) -> int:
        scores = self.scores(message_id)
        best = 0
        for i in range(1, len(scores)):
            if scores[i] > scores[best] or (
                    scores[i] == scores[best] and self.names[i] < self.names[best]):
                best = i
        return best


def rendezvous_order(names, message_id: str):
    return Rendezvous(names).order(message_id)


def rendezvous_first(names, message_id: str) -> int:
    return Rendezvous(names).first(message_id)


def check_endpoint(endpoint: str) -> str:
    """Why `endpoint` is not a ZeroMQ endpoint to connect to ('' if it is), as
    protocol::CheckEndpoint says it."""
    shown = f"'{endpoint}'"
    scheme, sep, rest = endpoint.partition("://")
    if not sep:
        return f"{shown} is not a ZeroMQ endpoint: write tcp://HOST:PORT, e.g. tcp://127.0.0.1:5555"
    if scheme in ("ipc", "inproc"):
        return f"{shown}: the {scheme} name is empty" if not rest else ""
    if scheme != "tcp":
        return f"{shown}: transport '{scheme}' is not supported (tcp, ipc, inproc)"
    colon = rest.rfind(":")
    if colon <= 0:
        return f"{shown}: expected tcp://HOST:PORT, e.g. tcp://127.0.0.1:5555"
    port = rest[colon + 1:]
    if port == "*":
        return ""
    if not port or len(port) > 5:
        return f"{shown}: the port must be 1 to 65535"
    if not port.isdigit() or not port.isascii():
        return f"{shown}: the port must be a number from 1 to 65535"
    if not 0 < int(port) <= 65535:
        return f"{shown}: the port must be 1 to 65535"
    return ""


def parse_cell_map(text: str, source: str = "cell map"):
    cells, names, endpoints = [], set(), set()
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0]
        w = line.split()
        if not w:
            continue

        def fail(why):
            return ConfigurationError(f"{source} line {number}: {why}")

        if len(w) not in (2, 3):
            raise fail(f"expected NAME ENDPOINT [PUBLIC_KEY_FILE], got {len(w)} fields")
        cell = Cell(w[0], w[1], w[2] if len(w) == 3 else "")
        if not _NAME.match(cell.name):
            raise fail(f"cell name '{cell.name}' must be 1-64 bytes of [A-Za-z0-9._-]")
        why = check_endpoint(cell.endpoint)
        if why:
            raise fail(f"cell {cell.name}: {why}")
        if "*" in cell.endpoint:
            raise fail(f"cell {cell.name}: '{cell.endpoint}' is a bind address, not one to "
                       "connect to")
        if cell.name in names:
            raise fail(f"cell {cell.name} is listed twice")
        if cell.endpoint in endpoints:
            raise fail(f"endpoint {cell.endpoint} is listed for two cells")
        if cells and bool(cells[0].public_key_file) != bool(cell.public_key_file):
            secured = bool(cells[0].public_key_file)
            raise fail(f"cell {cell.name} names {'no' if not cell.public_key_file else 'a'} "
                       f"public key file and cell {cells[0].name} "
                       f"{'does' if secured else 'does not'}: with CURVE on every cell needs "
                       "one, without it none")
        names.add(cell.name)
        endpoints.add(cell.endpoint)
        cells.append(cell)
    if not cells:
        raise ConfigurationError(f"{source} lists no cells")
    return cells


def read_cell_map(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigurationError(f"cannot read the cell map {path}: {e.strerror}") from None
    return parse_cell_map(text, path)


@dataclass(frozen=True)
class Target:
    name: str      # the cell's name; "broker" for a single broker
    endpoint: str
    public_key: bytes = b""  # the broker's CURVE public key (Z85); empty: plaintext


@dataclass
class Targets:
    brokers: list = field(default_factory=list)
    own_key: KeyPair | None = None
    from_cell_map: bool = False
    source: str = ""

    def describe(self) -> str:
        if not self.from_cell_map:
            return self.brokers[0].endpoint
        n = len(self.brokers)
        return f"{n} cell{'s' if n != 1 else ''} from {self.source}"


def resolve_targets(broker=None, cells=None, key=None, broker_key=None) -> Targets:
    """Where a client connects, with the C++ clients' rules: exactly one of broker and cells;
    with cells no broker_key (the map names each cell's key) and key exactly when the map names
    keys."""
    if cells:
        if broker:
            raise ConfigurationError("broker and cells both given: use broker for one broker "
                                     "or cells for a cell map, not both")
        if broker_key:
            raise ConfigurationError("broker_key is for broker: with cells, each cell's public "
                                     "key file is named in the map")
        cell_list = read_cell_map(cells)
        secured = bool(cell_list[0].public_key_file)
        if secured and not key:
            raise ConfigurationError(f"cells {cells} names the cells' public keys (CURVE): give "
                                     "this client's key too")
        if not secured and key:
            raise ConfigurationError(f"key was given but cells {cells} names no public key "
                                     "files: CURVE needs each cell's key in the map")
        t = Targets(from_cell_map=True, source=cells)
        if key:
            t.own_key = read_secret_key(key)
        base = os.path.dirname(cells)
        for c in cell_list:
            pub = b""
            if c.public_key_file:
                path = c.public_key_file
                if not os.path.isabs(path):
                    path = os.path.join(base, path)
                pub = read_public_key(path)
                if pub == t.own_key.secret:
                    raise ConfigurationError(f"cell {c.name}'s key file {path} holds this "
                                             "client's secret key: give the broker's .pub file")
            t.brokers.append(Target(c.name, c.endpoint, pub))
        return t
    if not broker:
        raise ConfigurationError("broker: give the broker's endpoint, e.g. tcp://127.0.0.1:5555 "
                                 "(or cells=FILE for a fleet of cells)")
    why = check_endpoint(broker)
    if why:
        raise ConfigurationError(f"broker: {why}")
    keys = load_client_keys(key, broker_key)
    t = Targets()
    if keys:
        t.own_key, pub = keys
        t.brokers.append(Target("broker", broker, pub))
    else:
        t.brokers.append(Target("broker", broker))
    return t


def split_credit(concurrency: int, cells):
    """How a consumer of several cells splits its concurrency (shared/cells/credit_split.cpp):
    `cells` is a list of (connected, ready depth, in flight); returns one credit per cell."""
    n = len(cells)
    credit = [0] * n
    held = 0
    for i, (connected, _ready, in_flight) in enumerate(cells):
        if connected:
            credit[i] = in_flight
            held += in_flight
    free = max(0, concurrency - held)
    if free == 0:
        return credit
    deep, empty = [], []
    weight, cap, extra = [0] * n, [0] * n, [0] * n
    for i, (connected, ready, _in_flight) in enumerate(cells):
        if not connected:
            continue
        if ready > 0:
            deep.append(i)
            weight[i] = cap[i] = ready
        else:
            empty.append(i)
            weight[i] = 1
            cap[i] = free
    for i in sorted(deep, key=lambda i: -cells[i][1]):  # stable: deepest first
        if free == 0:
            break
        extra[i] = 1
        free -= 1
    free = _share(free, deep, weight, cap, extra)
    if empty:
        free = _share(free, empty, weight, cap, extra)
    elif deep:
        for i in deep:
            cap[i] = extra[i] + free
        free = _share(free, deep, weight, cap, extra)
    return [credit[i] + extra[i] for i in range(n)]


def _share(amount, who, weight, cap, out):
    open_ = list(who)
    while amount > 0 and open_:
        total = sum(weight[i] for i in open_)
        if total <= 0:
            break
        given = 0
        remainders = []
        for i in open_:
            exact = amount * weight[i] / total
            whole = min(int(exact), cap[i] - out[i])
            out[i] += whole
            given += whole
            if out[i] < cap[i]:
                remainders.append((exact - whole, i))
        remainders.sort(key=lambda r: -r[0])
        for _r, i in remainders:
            if given == amount:
                break
            out[i] += 1
            given += 1
        amount -= given
        open_ = [i for i in open_ if out[i] < cap[i]]
        if given == 0:
            break
    return amount
