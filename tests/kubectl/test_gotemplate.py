"""``-o go-template`` / ``template`` / ``go-template-file``: the same text as the real kubectl
for the templates people write (and the same parse errors)."""

from __future__ import annotations

import pytest

from hyperkube.kubectl.gofmt import Int64, format_float, sprintf
from hyperkube.kubectl.gotemplate import execute, parse

TEMPLATES = [
    '{{.metadata.name}}',
    '{{range .items}}{{.metadata.name}}{{"\\n"}}{{end}}',
    '{{range $i, $o := .items}}{{$i}}:{{$o.kind}}/{{$o.metadata.name}} {{len $o.metadata}}{{"\\n"}}{{end}}',
    '{{- range .items -}}\n  {{ .metadata.name }} {{- if .data }} has data{{else}} empty{{end}}\n{{ end -}}',
    '{{index .data "b.c"}} {{.data}} {{.nothing}} {{.a.b}} {{printf "%s=%q %v" .metadata.name "x" 3}}',
    '{{$n := .metadata.name}}{{with .data}}{{$n}} {{.a | printf "<%s>"}}{{end}}{{/* it\'s a comment */}}',
    '{{range .items}}{{if eq .kind "Secret"}}{{.metadata.name}}={{index .data "pw" | base64decode}}'
    '{{else if eq .kind "ConfigMap"}}cm:{{.metadata.name}}{{else}}?{{end}} {{end}}',
    '{{exists . "data" "a"}} {{not .immutable}} {{and 1 0}} {{or 0 "" "z"}} {{lt 1 2}} {{ge 2.5 2.5}} '
    '{{printf "%5.2f|%-4s|%04d|%x|%t|%v" 3.14159 "ab" 42 "hi" true .nope}} {{print 1 2 "a" 3}}',
    '{{range .items}}{{.metadata.name}}{{break}}{{end}} {{len .items}} {{(index .items 0).kind}} {{slice "abc" 1}}',
    '{{.metadata.name', '{{end}}', '{{if .x}}', '{{nosuch .x}}',
]


@pytest.fixture(scope="module")
def objects(k):
    k.ok("create", "namespace", "gt")
    k.ok("create", "configmap", "gt", "-n", "gt", "--from-literal=a=x", "--from-literal=b.c=1000000")
    k.ok("create", "configmap", "empty", "-n", "gt")
    k.ok("create", "secret", "generic", "gs", "-n", "gt", "--from-literal=pw=s3cret")
    return k


@pytest.mark.parametrize("template", TEMPLATES)
def test_go_template_output_matches_the_real_kubectl(objects, template):
    target = ["secret,cm"] if "items" in template else (["secret", "gs"] if "pw" in template else ["cm", "gt"])
    objects.same("get", *target, "-n", "gt", "-o", f"go-template={template}")


def test_template_aliases_and_template_files(objects, tmp_path):
    path = tmp_path / "names.tmpl"
    path.write_text('{{range .items}}{{.metadata.name}} {{end}}\n')
    for output in (f"go-template-file={path}", f"templatefile={path}"):
        assert objects.same("get", "cm", "-n", "gt", "-o", output).stdout == "empty gt \n"
    objects.same("get", "cm", "gt", "-n", "gt", "-o", "template={{.metadata.name}}")
    objects.same("get", "cm", "gt", "-n", "gt", "-o", "go-template", "--template={{.data.a}}")
    failed = objects.ours("get", "secret,cm", "-n", "gt", "-o", "go-template={{range .items}}{{.metadata.name}}:"
                          "{{len .data}} {{end}}")
    assert (failed.stdout, failed.returncode) == ("gs:1 empty:", 1)  # what was written before the error stays
    assert "error calling len" in failed.stderr


def test_numbers_print_as_go_int64s_and_float64s():
    assert [format_float(v) for v in (3.0, 1e6, 123456.0, 1234567.0, 0.5, 1e-5, -2.0)] == \
        ["3", "1e+06", "123456", "1.234567e+06", "0.5", "1e-05", "-2"]
    assert sprintf("%d %s %v", [3.0, 1, None]) == "%!d(float64=3) %!s(int=1) <nil>"
    assert execute(parse("{{.n}} {{printf \"%v\" .n}}"), {"n": 2.0}) == "2 2"
    assert sprintf("%s %d", [Int64(1), Int64(1000000)]) == "%!s(int64=1) 1000000"
