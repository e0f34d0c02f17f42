"""Pieces that need no broker: rendezvous (the same function as the C++ publishers), cell maps,
credit split, retry delays, key files, the frame codec."""
import os

import pytest

from mandrill import ConfigurationError, InvalidArgument, MandrillError, PermissionDenied
from mandrill import errors, keys, protocol
from mandrill.cells import (Rendezvous, parse_cell_map, rendezvous_first, rendezvous_order,
                            rendezvous_score, resolve_targets, split_credit)
from mandrill.consumer import retry_delay_ms


def test_rendezvous_scores_match_the_cpp_golden_values():
    # tests/unit/cells/rendezvous_test.cpp
    assert rendezvous_score("cell-1", "order-1") == 0xC6F1F589347FA259
    assert rendezvous_score("", "") == 0x25FC6DD36CE04B20
    assert rendezvous_score("ab", "c") != rendezvous_score("a", "bc")


def test_rendezvous_order_and_first_agree():
    names = ["cell-a", "cell-b", "cell-c"]
    rv = Rendezvous(names)
    counts = [0, 0, 0]
    for i in range(3000):
        order = rv.order(f"id-{i}")
        assert order == rendezvous_order(names, f"id-{i}")
        assert sorted(order) == [0, 1, 2]
        assert rv.first(f"id-{i}") == order[0] == rendezvous_first(names, f"id-{i}")
        counts[order[0]] += 1
    assert all(800 < c < 1200 for c in counts), counts  # ids spread evenly


def test_cell_map_parsing(tmp_path):
    cells = parse_cell_map("# fleet\ncell-1 tcp://10.0.0.1:5555\n\ncell-2 tcp://10.0.0.2:5555 # b\n")
    assert [c.name for c in cells] == ["cell-1", "cell-2"]
    for bad, why in [("a tcp://h:1\na tcp://h:2", "listed twice"),
                     ("a tcp://h:1\nb tcp://h:1", "listed for two cells"),
                     ("a tcp://h:1 k.pub\nb tcp://h:2", "names no public key file"),
                     ("a", "expected NAME ENDPOINT"),
                     ("a tcp://*:5", "bind address"),
                     ("a b c d", "expected NAME ENDPOINT"),
                     ("a/b tcp://h:1", "cell name"),
                     ("", "lists no cells")]:
        with pytest.raises(ConfigurationError, match=why):
            parse_cell_map(bad, "m")


def test_cell_map_keys_are_relative_to_the_map(tmp_path):
    d = tmp_path / "fleet"
    d.mkdir()
    keys.write_key_files(str(d), "cell-1")
    keys.write_key_files(str(d), "me")
    (d / "cells").write_text("cell-1 tcp://127.0.0.1:1 cell-1.pub\n")
    t = resolve_targets(cells=str(d / "cells"), key=str(d / "me.key"))
    assert t.brokers[0].public_key == (d / "cell-1.pub").read_bytes().strip()
    with pytest.raises(ConfigurationError, match="give this client's key"):
        resolve_targets(cells=str(d / "cells"))
    with pytest.raises(ConfigurationError, match="not both"):
        resolve_targets(broker="tcp://127.0.0.1:1", cells=str(d / "cells"))


def test_split_credit_matches_the_cpp_cases():
    # tests/unit/cells/credit_split_test.cpp
    assert split_credit(20, [(True, 4, 0), (True, 0, 0), (True, 0, 0)]) == [4, 8, 8]
    assert split_credit(10, [(True, 100, 6), (False, 900, 3), (True, 100, 2)]) == [7, 0, 3]
    assert split_credit(1, [(True, 10, 0), (True, 500, 0)]) == [0, 1]
    even = split_credit(10, [(True, 0, 0)] * 3)
    assert sum(even) == 10 and set(even) <= {3, 4}


def test_retry_delay_doubles_per_attempt_and_is_capped():
    assert [retry_delay_ms(a, 0.5, 60.0) for a in (1, 2, 3, 4)] == [500, 1000, 2000, 4000]
    assert retry_delay_ms(20, 0.5, 60.0) == 60_000
    assert retry_delay_ms(1, 0.0, 60.0) == 0


def test_secret_key_files_must_be_private(tmp_path):
    pair = keys.write_key_files(str(tmp_path), "client")
    assert oct(os.stat(tmp_path / "client.key").st_mode & 0o777) == "0o600"
    assert keys.read_secret_key(str(tmp_path / "client.key")) == pair
    assert keys.read_public_key(str(tmp_path / "client.pub")) == pair.public
    os.chmod(tmp_path / "client.key", 0o644)
    with pytest.raises(ConfigurationError, match="readable by others"):
        keys.read_secret_key(str(tmp_path / "client.key"))
    os.chmod(tmp_path / "client.key", 0o600)
    (tmp_path / "bad.pub").write_text("not a key\n")
    with pytest.raises(ConfigurationError, match="Z85"):
        keys.read_public_key(str(tmp_path / "bad.pub"))
    with pytest.raises(ConfigurationError, match="go together"):
        keys.load_client_keys(str(tmp_path / "client.key"), None)
    with pytest.raises(ConfigurationError, match="secret key"):
        keys.load_client_keys(str(tmp_path / "client.key"), str(tmp_path / "client.key"))
    with pytest.raises(FileExistsError):
        keys.write_key_files(str(tmp_path), "client")


def test_error_codes_map_to_typed_errors():
    e = errors.from_code(208, "no", queue="q", ids=["a"])
    assert isinstance(e, PermissionDenied) and isinstance(e, MandrillError)
    assert e.code == 208 and e.queue == "q" and e.ids == ["a"] and "PERMISSION_DENIED" in str(e)
    assert isinstance(errors.from_code(104, "bad"), InvalidArgument)
    assert type(errors.from_code(999, "?")) is MandrillError


def test_frames():
    body = protocol.pack([[["q", "id-1", b"\x00payload", {"k": "v"}]]])
    command, fields = protocol.split([protocol.VERSION_FRAME, protocol.PUBLISH, body])
    assert command == protocol.PUBLISH
    assert fields == [[["q", "id-1", b"\x00payload", {"k": "v"}]]]
    with pytest.raises(ValueError, match="version 2"):
        protocol.split([b"MDL\x02", protocol.PUBLISH, body])
    with pytest.raises(ValueError, match="3 frames"):
        protocol.split([protocol.VERSION_FRAME, body])
    with pytest.raises(ValueError):
        protocol.split([protocol.VERSION_FRAME, protocol.PUBLISH, protocol.pack(5)])
