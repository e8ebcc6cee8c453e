"""Issue 20: the example extracts are drawn and written by two processes (evalkit._parallel.fork_map);
the files and the report (written, new, corrections, in order) are the serial ones."""

from __future__ import annotations


def _write(root):
    from evalkit.monitor.synth import write_demo_extracts

    report = write_demo_extracts(root)
    files = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    rel = lambda paths: [str(p.relative_to(root)) for p in paths]  # noqa: E731
    return files, (rel(report.written), rel(report.new), [(s, str(p.relative_to(root))) for s, p in report.corrections])


def test_demo_extracts_written_in_two_processes_are_the_serial_ones(tmp_path, monkeypatch):
    from evalkit import _parallel

    calls = []
    real = _parallel.fork_map
    monkeypatch.setattr(_parallel, "fork_map",
                        lambda fn, items, **kw: calls.append(_parallel.processes()) or real(fn, items, **kw))
    files2, report2 = _write(tmp_path / "two")
    again = _write(tmp_path / "two")  # every extract there already: all kept, none new
    monkeypatch.setenv(_parallel.PROCESSES_ENV, "1")
    files1, report1 = _write(tmp_path / "one")
    assert calls == [2, 2, 1]
    assert files2 == files1 and len(files1) > 100  # byte for byte
    assert report2 == report1
    assert sorted(report1[1]) == sorted(report1[0] + [p for _s, p in report1[2]]) and report1[2] == [
        ("police", "monitoring/extracts/police/corrections/police_2024-01_corrected.csv")]
    assert again[0] == files2 and again[1] == (report2[0], [], report2[2])
