"""Loading valid desired states: the model the planner gets, exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.desired import load
from reconciler.desired.model import Location, Origin
from reconciler.errors import ValidationFailed
from reconciler.secret import Secret

from .helpers import ACCOUNTS, ENVIRON, load_text, messages, write

DESIGN_EXAMPLE = """\
templates:
  support-app:
    application_type: REST
    rest:
      first_page: {address: https://app.example.com/support/first}

numbers:
  pools:
    london-support:
      country: United Kingdom
      region: London
      did_type: geographic
      count: 3
      inbound: {template: support-app}
    calgary:
      country: Canada
      state: Alberta
      region: Calgary
      count: 1
  pinned:
    "441908538007": {}

inbound_services:
  "441908538007":
    template: support-app
    description: Main line
  sales-sip:
    application_type: REST
    rest: {first_page: {address: https://app.example.com/sales}}

outbound_services:
  wakeup:
    mode: replace
    service_password: ${WAKEUP_PASSWORD}
    application_type: REST
    rest: {first_page: {address: https://app.example.com/wakeup}}
    ignore_changes: [rest.tts_voice]

relay_routes:
  "44113000111":
    action: httppost
    detail:
      - https://primary.example.com/sms?id=%i&orig=%o&msg=%m
      - https://backup.example.com/sms?id=%i&orig=%o&msg=%m
  "44113000112": {action: null-route}

prune:
  numbers: false
  inbound_services: true
  outbound_services: false
  ignore: ["test-*"]

safety:
  max_purchase: 10
  max_delete_percent: 30
  max_update_percent: 25.5

drift:
  ignore: ["inbound:*/description"]
"""


def _plain_types(value: Any) -> None:
    """Every string of a model configuration is a ``str`` itself or a Secret."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            _plain_types(item)
    elif isinstance(value, list):
        for item in value:
            _plain_types(item)
    elif isinstance(value, str):
        assert type(value) is str, f"{value!r} is a {type(value).__name__}"


def test_the_design_example_loads_into_the_model(tmp_path: Path) -> None:
    state = load_text(tmp_path, DESIGN_EXAMPLE).state
    assert state.aculab is not None and state.aql is not None
    assert state.aculab.cloud_id == "1-2-0"
    assert state.aculab.username == "ops@example.com"
    assert state.aculab.api_key == Secret("test-api-key-3b9d")
    assert state.aculab.base_url == "https://ws-1-2-0.aculabcloud.net"
    assert state.aql.password == Secret("test-aql-password-1c4e")

    london = state.pools["london-support"]
    assert london.location == Location("United Kingdom", "London", None, "geographic")
    assert london.count == 3
    assert london.inbound is not None
    assert london.inbound.config == {
        "application_type": "REST",
        "rest": {"first_page": {"address": "https://app.example.com/support/first"}},
    }
    assert london.inbound.mode == "merge"
    assert state.pools["calgary"].location == Location("Canada", "Calgary", "Alberta")
    assert state.pools["calgary"].inbound is None

    assert list(state.pinned) == ["441908538007"]
    main = state.inbound_services["441908538007"]
    assert main.kind == "inbound"
    assert main.config == {
        "application_type": "REST",
        "rest": {"first_page": {"address": "https://app.example.com/support/first"}},
        "description": "Main line",
    }
    wakeup = state.outbound_services["wakeup"]
    assert wakeup.mode == "replace"
    assert wakeup.ignore_changes == ("rest.tts_voice",)
    assert wakeup.config["service_password"] == Secret("test-wakeup-password-8a2f")
    assert set(wakeup.config) == {"service_password", "application_type", "rest"}

    primary = state.relay_routes["44113000111"]
    assert primary.action == "httppost"
    assert primary.detail == (
        "https://primary.example.com/sms?id=%i&orig=%o&msg=%m",
        "https://backup.example.com/sms?id=%i&orig=%o&msg=%m",
    )
    assert state.relay_routes["44113000112"].detail == ()
    assert state.prune.inbound_services and not state.prune.numbers
    assert state.prune.ignore == ("test-*",)
    assert state.safety.max_purchase == 10
    assert state.safety.max_update_percent == 25.5
    assert state.drift_ignore == ("inbound:*/description",)
    for spec in [*state.inbound_services.values(), *state.outbound_services.values()]:
        _plain_types(dict(spec.config))


def test_every_resource_knows_where_it_was_declared(tmp_path: Path) -> None:
    result = load_text(tmp_path, DESIGN_EXAMPLE)
    state = result.state
    file = str(tmp_path / "state.yaml")
    # ACCOUNTS has 8 lines; DESIGN_EXAMPLE's keys follow.
    assert state.pools["london-support"].origin == Origin(file, 17, 5)
    assert state.pinned["441908538007"].origin == Origin(file, 29, 5)
    assert state.inbound_services["441908538007"].origin == Origin(file, 32, 3)
    assert state.outbound_services["wakeup"].origin == Origin(file, 40, 3)
    assert state.relay_routes["44113000112"].origin == Origin(file, 53, 3)
    assert result.files == (file,)


def test_numbers_are_normalised_wherever_they_name_something(tmp_path: Path) -> None:
    state = load_text(
        tmp_path,
        """\
        numbers:
          pinned:
            "+44 (0)1908 538-007": {}
            44.1908.538008: {}
            441908538009: {}
        inbound_services:
          "+44 1908 538007": {}
          "+1 587 315 5555": {description: test number from the docs}
          "1001": {description: a short SIP username stays as written}
          sales-sip: {}
        relay_routes:
          "+44 113 000 111": {action: null-route}
          "218 873 77377": {action: null-route}
        """,
    ).state
    assert list(state.pinned) == ["441908538007", "441908538008", "441908538009"]
    assert list(state.inbound_services) == ["441908538007", "15873155555", "1001", "sales-sip"]
    assert list(state.relay_routes) == ["44113000111", "21887377377"]
    assert state.inbound_services["441908538007"].name == "441908538007"
    assert state.relay_routes["44113000111"].number == "44113000111"


def test_templates_deep_merge_under_the_services_own_keys(tmp_path: Path) -> None:
    state = load_text(
        tmp_path,
        """\
        templates:
          base:
            mode: replace
            ignore_changes: [rest.tts_voice]
            application_type: REST
            rest:
              first_page: {address: https://base.example.com/first, method: POST}
              error_page: {address: https://base.example.com/error}
              application_parameters: [a, b]
          support:
            template: base
            rest:
              first_page: {address: https://support.example.com/first}
        numbers:
          pools:
            london:
              country: United Kingdom
              region: London
              count: 1
              inbound:
                template: support
                mode: merge
                rest: {application_parameters: [c]}
        inbound_services:
          sales-sip:
            template: support
            description: Sales
            rest:
              error_page: null
        """,
    ).state
    sales = state.inbound_services["sales-sip"]
    assert sales.mode == "replace"  # from the template
    assert sales.ignore_changes == ("rest.tts_voice",)
    assert sales.config == {
        "application_type": "REST",
        "rest": {
            # merged key by key: the nearer template wins, then the service
            "first_page": {"address": "https://support.example.com/first", "method": "POST"},
            "error_page": None,  # the service clears what the template sets
            "application_parameters": ["a", "b"],
        },
        "description": "Sales",
    }
    pool = state.pools["london"].inbound
    assert pool is not None
    assert pool.mode == "merge"  # the pool's own key wins
    assert pool.config["rest"]["application_parameters"] == ["c"]  # lists are replaced
    assert pool.config["rest"]["first_page"]["address"] == "https://support.example.com/first"


def test_a_service_with_no_body_has_an_empty_configuration(tmp_path: Path) -> None:
    state = load_text(tmp_path, "inbound_services:\n  sales-sip:\n  desk-2: {}\n").state
    assert state.inbound_services["sales-sip"].config == {}
    assert state.inbound_services["desk-2"].config == {}


def test_secrets_are_wrapped_at_any_depth_and_never_plain(tmp_path: Path) -> None:
    state = load_text(
        tmp_path,
        """\
        outbound_services:
          wakeup:
            service_password: inline-service-secret
            rest:
              authentication: {username: bob, password: 12345678}
              call_recording: {password: inline-secret}
              first_page: {address: "https://bob:url-secret@app.example.com/first"}
        """,
    ).state
    config = state.outbound_services["wakeup"].config
    assert config["service_password"] == Secret("inline-service-secret")
    # YAML read this one as a number: still a secret, as text
    assert config["rest"]["authentication"]["password"] == Secret("12345678")
    assert config["rest"]["call_recording"]["password"] == Secret("inline-secret")
    address = config["rest"]["first_page"]["address"]
    assert isinstance(address, Secret)
    assert address.reveal() == "https://bob:url-secret@app.example.com/first"
    assert str(address) == "https://bob:(sensitive)@app.example.com/first"


def test_environment_variables_and_escapes(tmp_path: Path) -> None:
    environ = {**ENVIRON, "HOST": "app.example.com", "DESK": "7"}
    state = load_text(
        tmp_path,
        """\
        inbound_services:
          sales-sip:
            description: "desk ${DESK} costs $$5, written $${NOT_A_VARIABLE}"
            rest: {first_page: {address: "https://${HOST}/desk/${DESK}"}}
        """,
        environ=environ,
    ).state
    config = state.inbound_services["sales-sip"].config
    assert config["description"] == "desk 7 costs $$5, written ${NOT_A_VARIABLE}"
    assert config["rest"]["first_page"]["address"] == "https://app.example.com/desk/7"
    _plain_types(dict(config))


def test_the_process_environment_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    path = write(tmp_path, ACCOUNTS)
    state = load(path).state
    assert state.aculab is not None and state.aculab.api_key.reveal() == "test-api-key-3b9d"


def test_simulate_reads_unset_variables_as_placeholders(tmp_path: Path) -> None:
    state = load_text(
        tmp_path,
        """\
        inbound_services:
          sales-sip: {description: "${DESK_NAME}"}
        """,
        environ={},
        simulate=True,
    ).state
    assert state.aculab is not None and state.aql is not None
    assert state.aculab.api_key == Secret("simulated-ACULAB_API_KEY")
    assert state.aql.password == Secret("simulated-AQL_PASSWORD")
    description = state.inbound_services["sales-sip"].config["description"]
    assert description == "simulated-DESK_NAME" and type(description) is str


def test_without_simulate_every_unset_variable_is_reported(tmp_path: Path) -> None:
    assert messages(tmp_path, "", environ={}) == [
        "5:12: environment variable ACULAB_API_KEY is not set (set it, or use --simulate to "
        "run against the simulator without credentials)",
        "8:13: environment variable AQL_PASSWORD is not set (set it, or use --simulate to "
        "run against the simulator without credentials)",
    ]


def test_yaml_merge_keys_and_anchors_work(tmp_path: Path) -> None:
    state = load_text(
        tmp_path,
        """\
        relay_routes:
          "44113000111": &hook
            action: httpget
            detail: [https://hooks.example.com/sms]
          "44113000112": *hook
          "44113000113":
            <<: *hook
            action: httppost
        """,
    ).state
    routes = state.relay_routes
    assert routes["44113000112"].detail == ("https://hooks.example.com/sms",)
    assert routes["44113000113"].action == "httppost"
    assert routes["44113000113"].detail == ("https://hooks.example.com/sms",)


def test_region_prefixes_and_yaml_timestamps_stay_text(tmp_path: Path) -> None:
    state = load_text(
        tmp_path,
        """\
        numbers:
          pools:
            freephone:
              country: Canada
              region: 855
              did_type: tollfree
              count: 1
              allow_landline: true
        inbound_services:
          sales-sip: {description: 2024-05-01}
        """,
    ).state
    assert state.pools["freephone"].location.region == "855"
    assert state.pools["freephone"].allow_landline
    assert state.inbound_services["sales-sip"].config["description"] == "2024-05-01"


def test_defaults_when_sections_are_absent(tmp_path: Path) -> None:
    state = load(write(tmp_path, "version: 1\n"), environ={}).state
    assert state.aculab is None and state.aql is None
    assert state.safety.max_purchase == 10 and state.safety.max_delete_percent == 30.0
    assert not state.prune.numbers and state.prune.ignore == ()
    assert state.drift_ignore == ()


def test_a_directory_merges_its_yaml_files_in_name_order(tmp_path: Path) -> None:
    write(tmp_path, ACCOUNTS, "00-account.yaml")
    write(tmp_path, "version: 1\ntemplates:\n  app: {application_type: REST}\n", "b.yaml")
    write(
        tmp_path,
        "version: 1\ninbound_services:\n  desk: {template: app}\n"
        "numbers:\n  pinned: {'441908538007': {}}\n",
        "a.yaml",
    )
    write(tmp_path, "version: 1\nnumbers:\n  pinned: {'441908538008': {}}\n", "c.yaml")
    write(tmp_path, "not: [valid", "notes.txt")
    result = load(tmp_path, environ=ENVIRON)
    state = result.state
    assert result.files == tuple(str(tmp_path / n) for n in ("00-account.yaml", "a.yaml",
                                                             "b.yaml", "c.yaml"))  # fmt: skip
    assert state.inbound_services["desk"].config == {"application_type": "REST"}
    assert list(state.pinned) == ["441908538007", "441908538008"]
    assert state.pinned["441908538008"].origin.file == str(tmp_path / "c.yaml")
    assert result.warnings == []


def test_a_yml_file_in_a_directory_is_ignored_with_a_warning(tmp_path: Path) -> None:
    write(tmp_path, ACCOUNTS, "account.yaml")
    write(tmp_path, "version: 1\nnumbers: {pinned: {'441908538007': {}}}\n", "numbers.yml")
    result = load(tmp_path, environ=ENVIRON)
    assert result.state.pinned == {}
    assert [str(d) for d in result.warnings] == [
        f"{tmp_path / 'numbers.yml'}:1:1: warning: ignored: only *.yaml files of a directory "
        "are read (rename it to .yaml)"
    ]


def test_a_missing_path_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as caught:
        load(tmp_path / "nope.yaml", environ={})
    assert [d.message for d in caught.value.diagnostics] == [
        "no such file or directory: give a YAML file or a directory of them"
    ]


def test_all_errors_are_reported_at_once(tmp_path: Path) -> None:
    found = messages(
        tmp_path,
        """\
        numbers:
          pools:
            a: {country: United Kingdom, region: London, count: -2}
            b: {country: United Kingdom, region: Leeds, count: 1, did_typ: mobile}
        relay_routes:
          "44113000111": {action: mvno}
        outbound_services:
          wakeup: {}
        """,
    )
    assert len(found) == 4
    assert [m.split(":")[0] for m in found] == ["11", "12", "14", "16"]


def test_warnings_come_back_with_a_valid_state(tmp_path: Path) -> None:
    result = load_text(
        tmp_path,
        """\
        templates:
          spare: {application_type: REST}
        inbound_services:
          "441908538099": {}
        """,
    )
    assert [d.severity for d in result.warnings] == ["warning", "warning"]
    assert [d.line for d in result.warnings] == [10, 12]


def test_errors_carry_the_warnings_too(tmp_path: Path) -> None:
    found = messages(tmp_path, "templates:\n  spare: {}\noutbound_services:\n  x: {}\n")
    assert found[0].startswith("10:3: template 'spare' is not used")
    assert found[1].startswith("12:3: outbound service 'x' has no service_password")
