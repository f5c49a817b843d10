import shutil

import pytest

from palm_utils import config
from palm_utils.datasets import discovery
from palm_utils.datasets.discovery import find_dataset
from palm_utils.layout import STANDIN_MARKER
from conftest import SHARED_PALM, copy_standin, make_mini_palm


def test_explicit_path_first(mini_palm, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PALM_DATA_DIR", str(tmp_path / "elsewhere"))
    info = find_dataset(mini_palm)
    assert info.root == mini_palm and info.source == "explicit path" and not info.standin
    assert info.train_counts == {"P": 10, "N": 5, "H": 5}
    assert list(info.valid_counts.items()) == [(0, 10), (1, 10)]
    out = capsys.readouterr().out
    assert "Data: real PALM data" in out and "train: 20 images (H 5, N 5, P 10" in out


def test_environment_variable(mini_palm, monkeypatch, capsys):
    monkeypatch.setenv("PALM_DATA_DIR", str(mini_palm))
    info = find_dataset()
    assert info.source == "PALM_DATA_DIR" and info.root == mini_palm
    assert "at $PALM_DATA_DIR" in capsys.readouterr().out  # no machine path printed


def test_bad_environment_variable_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PALM_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="from PALM_DATA_DIR.*is not a PALM dataset root"):
        find_dataset()


def test_prepared_folder(tmp_path):
    make_mini_palm(config.prepared_dir())
    assert find_dataset(verbose=False).source == "prepared folder"


def test_aistudio_zips_prepared_on_first_use(monkeypatch, tmp_path):
    from test_aistudio import make_zips

    zips = make_zips(tmp_path / "aistudio")
    monkeypatch.setenv("PALM_AISTUDIO_DIR", str(zips))
    info = find_dataset(verbose=False)
    assert info.source == "AI Studio zips" and info.root == config.prepared_dir()
    assert find_dataset(verbose=False).source == "prepared folder"  # second time: already there


def test_standin_when_nothing_found(standin_palm, capsys):
    # The session's stand-in (seed 0), placed where discovery keeps its own:
    # generate_standin reuses it only if discovery asks for the same seed and
    # size, and would refuse to touch it otherwise.
    copy_standin(standin_palm, config.standin_dir())
    info = find_dataset()
    assert info.root == config.standin_dir()
    assert info.standin and info.source == "stand-in"
    assert (info.root / STANDIN_MARKER).is_file()
    assert info.train_counts == {"H": 26, "N": 161, "P": 213}
    assert info.valid_counts == {1: 211, 0: 189}
    out = capsys.readouterr().out
    assert out.count("No PALM dataset found: using the generated stand-in") == 1
    assert "STAND-IN (generated, not real photographs)" in out
    assert discovery.default_dataset() is info


@pytest.mark.skipif(not SHARED_PALM.is_dir(), reason="real data (../shared/data/palm224) not present")
def test_real_data_found_with_spec_counts(monkeypatch):
    monkeypatch.setenv("PALM_DATA_DIR", str(SHARED_PALM))
    info = find_dataset(verbose=False)
    assert not info.standin
    assert info.train_counts == {"H": 26, "N": 161, "P": 213}
    assert info.valid_counts == {1: 211, 0: 189}
