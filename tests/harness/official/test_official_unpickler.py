"""The restricted unpickler: official pickles load as data; anything that would run code is refused."""

import builtins
import os
import pickle
import pickletools

import pytest
import torch

from harness.official.names import official_state
from harness.official.unpickler import OfficialPickleError, PersistentObject, load_official_pickle
from tests.harness.official.conftest import small_networks
from tests.harness.official.official_format import official_pickle_bytes


def test_reads_the_official_fixture_as_data(parity_dir):
    top = load_official_pickle(parity_dir / "official-Gskip-Dresnet-32.pkl")
    assert set(top) == {"G", "D", "G_ema", "augment_pipe", "training_set_kwargs"}
    G = top["G_ema"]
    assert isinstance(G, PersistentObject) and G.class_name == "Generator"
    assert G.child("synthesis").child("b32").attr("architecture") == "skip"
    state = G.state_dict()
    assert state["synthesis.b4.const"].shape == (64, 4, 4) and state["mapping.w_avg"].shape == (64,)
    assert all(type(tensor) is torch.Tensor for tensor in state.values())  # no Parameter, no hooks


def test_round_trips_a_registry_network_written_in_the_official_layout(tmp_path):
    G, D = small_networks()
    path = tmp_path / "network-snapshot.pkl"
    path.write_bytes(official_pickle_bytes({"G": G, "D": D, "G_ema": G}))
    top = load_official_pickle(path)
    for key, net in (("G", G), ("D", D), ("G_ema", G)):
        read = top[key].state_dict()
        expected = official_state(net)
        filters = [name for name in read if name.endswith("resample_filter")]
        assert set(read) - set(filters) == set(expected) and filters
        for name, tensor in expected.items():
            assert torch.equal(read[name], tensor), name


def test_persistent_module_source_is_never_run(tmp_path):
    marker = tmp_path / "module_src_ran"
    G, D = small_networks()
    source = f"open({str(marker)!r}, 'w').write('ran')\n"
    path = tmp_path / "net.pkl"
    path.write_bytes(official_pickle_bytes({"G_ema": G, "D": D}, module_src=source))
    top = load_official_pickle(path)
    assert top["G_ema"].class_name == "Generator" and "module_src" not in top["G_ema"].state
    assert not marker.exists()


class _RunsCommand:
    def __init__(self, function, argument):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return self.function, (self.argument,)


class SneakyDict(dict):
    """A dict subclass whose unpickling would have a side effect (if it were ever admitted)."""

    marker = None

    def __setstate__(self, state):
        open(self.marker, "w").close()


def _evil_payloads(marker):
    touch = f"open({str(marker)!r}, 'w').close()"
    sneaky = SneakyDict(a=1)
    sneaky.flag = True  # a __dict__ makes pickle emit BUILD, i.e. call __setstate__
    SneakyDict.marker = str(marker)
    nested = pickle.dumps(_RunsCommand(builtins.exec, touch), protocol=2)  # "storage" bytes that run code
    return {
        "os.system": (_RunsCommand(os.system, f"touch {marker}"), f"{os.system.__module__}.system"),
        "builtins.eval": (_RunsCommand(builtins.eval, touch), "builtins.eval"),
        "subclass": (sneaky, "SneakyDict"),
        "storage payload": (_RunsCommand(torch.storage._load_from_bytes, nested), "tensor storage record"),
    }


# What each payload would call under the standard unpickler.
LIVE_CALLABLE = {"os.system": b"system", "builtins.eval": b"eval", "subclass": b"SneakyDict",
                 "storage payload": b"_load_from_bytes"}


@pytest.mark.parametrize("payload", sorted(LIVE_CALLABLE))
def test_code_in_the_pickle_is_refused_and_never_runs(tmp_path, payload):
    marker = tmp_path / "code_ran"
    evil, named = _evil_payloads(marker)[payload]
    path = tmp_path / "evil.pkl"
    data = pickle.dumps({"G": None, "G_ema": evil}, protocol=4)  # inside a plain dict
    path.write_bytes(data)
    # The payload is live, shown without running it: it names its callable and calls it (REDUCE) or
    # its __setstate__ (BUILD) when loaded.
    opcodes = {opcode.name for opcode, _, _ in pickletools.genops(data)}
    assert LIVE_CALLABLE[payload] in data and opcodes & {"REDUCE", "BUILD"}
    with pytest.raises(OfficialPickleError, match=named) as error:
        load_official_pickle(path)
    assert payload == "storage payload" or "is not an official network pickle" in str(error.value)
    assert not marker.exists()


def test_other_files_get_a_clear_error(tmp_path):
    archive = tmp_path / "weights.pt"
    torch.save({"w": torch.ones(2)}, archive)
    with pytest.raises(OfficialPickleError, match="torch.save archive, not an official network pickle"):
        load_official_pickle(archive)
    text = tmp_path / "notes.pkl"
    text.write_text("hello")
    with pytest.raises(OfficialPickleError, match="not a readable official network pickle"):
        load_official_pickle(text)
    listing = tmp_path / "list.pkl"
    listing.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(OfficialPickleError, match="holds a list, not the official dict"):
        load_official_pickle(listing)
