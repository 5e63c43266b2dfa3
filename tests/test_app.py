"""serving/app.py: every endpoint's shape and every limit, in process (fastapi.testclient)."""

import json
import os
import re

import pytest
from fastapi.testclient import TestClient

from slotfill.inference.tagger import SlotTagger
from slotfill.serving.app import create_app, settings
from slotfill.serving.backend import load_backend
from slotfill.serving.limits import Limits

LIMITS = Limits(max_body_bytes=2000, max_text_chars=100, max_batch=4, max_tokens=10)


@pytest.fixture
def backend(tiny_model_file):
    return load_backend(tiny_model_file)


@pytest.fixture
def client(backend):
    with TestClient(create_app(backend, LIMITS, max_batch=8, max_wait_ms=1)) as c:
        yield c


def _error(resp, status):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert isinstance(body["error"], str) and body["error"]
    return body["error"]


def test_parse_answers_in_rasa_shape(client, tiny_model_file):
    text = "i want to leave taipei, please"
    body = client.post("/parse", json={"text": text}).json()
    assert set(body) == {"text", "intent", "intent_ranking", "entities", "response_selector", "tokens", "tags"}
    assert body["text"] == text and body["tokens"] == ["i", "want", "to", "leave", "taipei", ",", "please"]
    assert len(body["tags"]) == len(body["tokens"])
    assert set(body["intent"]) == {"name", "confidence"} and isinstance(body["intent"]["name"], str)
    assert body["intent_ranking"][0] == body["intent"]
    expected = SlotTagger.load(tiny_model_file).predict([text])[0]
    assert [(e["entity"], e["start"], e["end"]) for e in body["entities"]] == [
        (s["slot"], s["start"], s["end"]) for s in expected["spans"]
    ]
    for e in body["entities"]:
        assert set(e) >= {"entity", "value", "start", "end", "confidence"} and text[e["start"] : e["end"]] == e["value"]


def test_model_parse_is_rasas_endpoint_and_parse_its_alias(client, backend):
    rasa = {"text": "arrive in boston", "message_id": "m-17", "metadata": {"channel": "rest"}}
    a = client.post("/model/parse", json=rasa).json()
    b = client.post("/parse", json={"text": "arrive in boston"}).json()
    # extra keys ignored; the id never sent back: Rasa merges the answer into the message's own data
    assert a == b and "message_id" not in a and a["response_selector"] == {"all_retrieval_intents": []}
    ranking = a["intent_ranking"]
    n_intents = len(backend.tagger.vocabs.intents)
    assert ranking[0] == a["intent"] and len(ranking) == n_intents - len(a["intent"]["name"].split("+")) + 1
    assert [r["confidence"] for r in ranking[1:]] == sorted((r["confidence"] for r in ranking[1:]), reverse=True)
    assert len({r["name"] for r in ranking}) == len(ranking)


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain"])
def test_a_json_body_is_read_whatever_its_content_type(client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    resp = client.post("/model/parse", content=b'{"text": "arrive in boston"}', headers=headers)
    assert resp.status_code == 200 and resp.json()["tokens"] == ["arrive", "in", "boston"]
    assert _error(client.post("/model/parse", content=b"text=boston", headers=headers), 400) == "malformed JSON body"


def test_auth_token_guards_the_api_but_not_health_or_the_pages(backend):
    with TestClient(create_app(backend, LIMITS, auth_token="s3cret")) as c:
        body = {"text": "arrive in boston"}
        for path in ("/model/parse", "/parse"):
            assert "token" in _error(c.post(path, json=body), 401)
            assert _error(c.post(f"{path}?token=wrong", json=body), 401)
        assert _error(c.get("/version"), 401)
        assert c.post("/model/parse?token=s3cret", json=body).status_code == 200  # as Rasa's endpoints send it
        assert c.post("/model/parse", json={**body, "token": "s3cret"}).status_code == 200  # its interpreter
        assert _error(c.post("/model/parse", json={**body, "token": "nope"}), 401)
        assert c.post("/predict", json={"texts": ["to boston"]}, headers={"authorization": "Bearer s3cret"}).is_success
        assert c.post("/predict", json={"texts": ["to boston"], "token": "s3cret"}).is_success  # the body, as /parse
        surrogate = '{"text": "x", "token": "\\ud800"}'  # no Unicode text: a wrong token, not a crash
        assert _error(c.post("/model/parse", content=surrogate, headers={"content-type": "application/json"}), 401)
        for path in ("/health", "/", "/docs", "/openapi.json"):
            assert c.get(path).status_code == 200
        assert c.head("/health").status_code == 200  # a load balancer's check
        assert _error(c.post("/parse?token=s3cret", content=b""), 400) == "empty body: send a JSON object"
        for page in ("/", "/docs"):  # opened as /?token=...: they pass it on with their requests
            assert 'get("token")' in c.get(page).text and "Bearer ${TOKEN}" in c.get(page).text


def test_predict_gives_the_jsonl_records(client, tiny_model_file):
    texts = ["i want to leave taipei", "arrive in new york, please"]
    records = client.post("/predict", json={"texts": texts}).json()
    assert records == json.loads(json.dumps(SlotTagger.load(tiny_model_file).predict(texts)))
    tokens = client.post("/predict", json={"sentences": [["arrive", "in", "boston"]]}).json()
    assert tokens[0]["tokens"] == ["arrive", "in", "boston"] and len(tokens[0]["tags"]) == 3


def test_health_version_and_docs(client, backend):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["worker"] == os.getpid()  # which process answered (workers=N)
    version = client.get("/version").json()
    assert version["slotfill_version"].startswith("0.") and version["backend"] == "torch"
    assert version["precision"] == "fp32"  # precision=auto: the tiny model says nothing of bfloat16 training
    assert version["model"]["weights_sha256"] == backend.card["weights_sha256"]
    assert version["model"]["dataset"] == "tiny"
    assert "/parse" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_the_schema_names_the_answers_and_every_refusal_with_its_body(backend, token):
    """/openapi.json (and /docs, which renders it) listed 200 as {} and 422 as FastAPI's own body."""
    from slotfill.serving.schemas import ErrorBody, PredictRecord, RasaParseResponse

    with TestClient(create_app(backend, LIMITS, auth_token=token)) as c:
        spec = c.get("/openapi.json").json()
        models, error = spec["components"]["schemas"], {"$ref": "#/components/schemas/ErrorBody"}
        refusals = {"400", "413", "422"} | ({"401"} if token else set())
        for path in ("/model/parse", "/parse", "/predict"):
            responses = spec["paths"][path]["post"]["responses"]
            assert set(responses) == {"200", "503"} | refusals
            assert all(responses[code]["content"]["application/json"]["schema"] == error for code in refusals)
            assert ("security" in spec["paths"][path]["post"]) == bool(token)
        ok = spec["paths"]["/model/parse"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": "#/components/schemas/RasaParseResponse"}
        assert {"text", "intent", "intent_ranking", "entities"} <= set(models["RasaParseResponse"]["required"])
        assert set(models["Intent"]["properties"]) == {"name", "confidence"}
        assert set(models["ErrorBody"]["properties"]) == {"error", "detail"}
        parse = models["ParseRequest"]["properties"]
        assert parse["text"]["maxLength"] == LIMITS.max_text_chars and parse["token"]["type"] == "string"
        assert ("securitySchemes" in spec["components"]) == bool(token)
        assert "security" not in spec["paths"]["/health"]["get"]
        for path, operations in spec["paths"].items():  # every guarded path (GET /version too) says its 401
            for operation in operations.values():
                guarded = bool(token) and path != "/health"
                assert ("security" in operation) == ("401" in operation["responses"]) == guarded
                if guarded:
                    assert operation["responses"]["401"]["content"]["application/json"]["schema"] == error
        assert c.get("/openapi.json").json() == spec  # the schema is built once: _document is idempotent
        # the schema describes the wire, which it does not change
        q = f"?token={token}" if token else ""
        RasaParseResponse.model_validate(c.post(f"/model/parse{q}", json={"text": "to boston", "nbest": 2}).json())
        [PredictRecord.model_validate(r) for r in c.post(f"/predict{q}", json={"texts": ["to boston"]}).json()]
        wrong = c.post(f"/model/parse{q}", json={"text": "to boston", "nbest": "2"})
        assert wrong.status_code == 422 and ErrorBody.model_validate(wrong.json()).detail
        assert c.post("/model/parse", json={"text": "to boston", "token": 12345}).status_code == (401 if token else 200)


@pytest.mark.parametrize("path", ["/", "/docs"])
def test_the_pages_fetch_nothing_from_elsewhere(client, path):
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    sources = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page.text) + re.findall(r"@import|url\(", page.text)
    assert all(s.startswith("/") for s in sources), sources  # this server's own paths only: works offline
    assert "cdn" not in page.text.lower() and "//" not in "".join(sources)
    assert client.get("/redoc").status_code == 404


def test_body_size_limit(client):
    _error(client.post("/parse", json={"text": "x" * 3000}), 413)
    chunks = (b'{"text": "' + b"a" * 500 for _ in range(6))  # streamed, no Content-Length
    _error(client.post("/parse", content=chunks, headers={"content-type": "application/json"}), 413)


def test_text_length_and_batch_limits(client):
    assert "at most 100" in _error(client.post("/parse", json={"text": "x" * 101}), 413)
    _error(client.post("/predict", json={"texts": ["a"] * 5}), 413)
    _error(client.post("/predict", json={"texts": ["a", "x" * 101]}), 413)
    _error(client.post("/predict", json={"sentences": [["a"] * 11]}), 413)
    # a pre-tokenised sentence is held to a text's limit: tokens under it each, over it joined (a 500 past predict's)
    assert "joined by spaces" in _error(client.post("/predict", json={"sentences": [["x" * 60, "y" * 60]]}), 413)


def test_a_sentence_over_predicts_own_limit_is_413_whatever_max_text_chars_allows(backend):
    from slotfill.core.limits import MAX_TEXT_CHARS

    limits = Limits(max_text_chars=2 * MAX_TEXT_CHARS)
    with TestClient(create_app(backend, limits, max_batch=8, max_wait_ms=1), raise_server_exceptions=False) as c:
        half = MAX_TEXT_CHARS // 2
        said = _error(c.post("/predict", json={"sentences": [["x" * half, "y" * half]]}), 413)
        assert f"{MAX_TEXT_CHARS + 1} characters joined by spaces (at most {MAX_TEXT_CHARS})" in said
        assert "characters" in _error(c.post("/predict", json={"texts": ["x" * (MAX_TEXT_CHARS + 1)]}), 422)


@pytest.mark.parametrize(
    "content",
    [b'{"text": "flights', b"not json", b'{"text": "\xff\xfe"}', b""],
)
def test_malformed_json_is_400(client, content):
    resp = client.post("/parse", content=content, headers={"content-type": "application/json"})
    assert resp.status_code in (400, 422)
    _error(resp, resp.status_code)


@pytest.mark.parametrize(
    "path,body",
    [
        ("/parse", {}),
        ("/parse", {"text": 12}),
        ("/parse", {"text": None}),
        ("/parse", ["flights"]),
        ("/predict", {}),
        ("/predict", {"texts": ["a"], "sentences": [["a"]]}),
        ("/predict", {"texts": "flights"}),
        ("/predict", {"sentences": [["a", ""]]}),
        ("/predict", {"sentences": [["a b"]]}),
        ("/predict", {"sentences": ["ab"]}),
        ("/predict", {"texts": ["a"], "extra": 1}),
    ],
)
def test_invalid_requests_are_422(client, path, body):
    _error(client.post(path, json=body), 422)


def test_empty_inputs_are_answered(client):
    body = client.post("/parse", json={"text": ""}).json()
    assert body["tokens"] == [] and body["entities"] == [] and body["intent"]["name"] is None
    assert client.post("/predict", json={"texts": []}).json() == []
    assert client.post("/predict", json={"sentences": [[]]}).json()[0]["tags"] == []


def test_unknown_paths_and_methods_answer_json(client):
    _error(client.get("/nothing"), 404)
    _error(client.get("/parse"), 405)


def test_without_batching(backend):
    with TestClient(create_app(backend, LIMITS, max_batch=1)) as c:
        assert c.post("/parse", json={"text": "arrive in boston"}).json()["tokens"] == ["arrive", "in", "boston"]


def test_bad_serve_settings_are_config_errors():
    from omegaconf import OmegaConf

    from slotfill.errors import ConfigError

    with pytest.raises(ConfigError, match="max_wait_ms"):
        settings(OmegaConf.create({"ckpt": "m.pt", "batching": {"max_batch": 8, "max_wait_ms": 50}}))
    with pytest.raises(ConfigError, match="max_text_chars"):
        settings(OmegaConf.create({"ckpt": "m.pt", "limits": {"max_text_chars": 0}}))
    for token in ("", "  ", ["a"]):
        with pytest.raises(ConfigError, match="auth_token: must be a non-empty string"):
            settings(OmegaConf.create({"ckpt": "m.pt", "auth_token": token}))
    with pytest.raises(ConfigError, match="auth_token was read as a number: quote the token as you typed it"):
        settings(OmegaConf.create({"ckpt": "m.pt", "auth_token": 12345}))  # Rasa's --auth-token 12345 is text
    with pytest.raises(ConfigError, match=r"^precision='fp16': choose one of auto, fp32, bf16, int8$"):
        settings(OmegaConf.create({"ckpt": "m.pt", "precision": "fp16"}))
    with pytest.raises(ConfigError, match=r"^precision=bf16 needs backend=torch"):
        settings(OmegaConf.create({"ckpt": "m.onnx", "precision": "bf16"}))
    with pytest.raises(ConfigError, match=r"^precision=int8 needs backend=onnx"):
        settings(OmegaConf.create({"ckpt": "m.pt", "precision": "int8"}))
    assert settings(OmegaConf.create({"ckpt": "m.pt"}))["precision"] == "auto"


# ------------------------------------------------------------- slotfill serve
@pytest.mark.slow
def test_a_model_that_does_not_load_stops_the_server_at_start(tmp_path, capsys):
    from slotfill.cli.main import main

    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a model")
    for ckpt in (tmp_path / "missing.pt", bad):
        with pytest.raises(SystemExit) as e:
            main(["serve", f"ckpt={ckpt}", "port=1"])
        err = capsys.readouterr().err
        assert e.value.code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_real_server_process(tiny_model_file):
    import os
    import socket
    import subprocess
    import sys

    import httpx

    from tests.helpers import ROOT, wait_until_serving

    cmd = [sys.executable, "-m", "slotfill", "serve", f"ckpt={tiny_model_file}", "port=0"]  # any free port...
    cmd.append("connections.request_timeout_s=1")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    said = proc.stdout.readline()
    port = int(said.rsplit(":", 1)[-1])  # ...and the first line names the one it took
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, url, timeout=60, poll=0.2)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as silent:  # sends nothing
            assert silent.recv(4096).startswith(b"HTTP/1.1 408 ")
        body = httpx.post(f"{url}/parse", json={"text": "arrive in boston"}).json()
        assert body["tokens"] == ["arrive", "in", "boston"]
        assert httpx.post(f"{url}/parse", content=b"{", headers={"content-type": "application/json"}).status_code == 400
        assert httpx.get(f"{url}/version").json()["model"]["dataset"] == "tiny"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.slow
def test_a_rasa_bot_gets_intents_ranking_and_entities_from_the_real_server(tiny_model_file):
    """What Rasa's RasaNLUHttpInterpreter sends (aiohttp, ``json=``; endpoints.yml ``nlu: url:``), replayed."""
    import asyncio
    import os
    import subprocess
    import sys

    aiohttp = pytest.importorskip("aiohttp")
    from tests.helpers import ROOT, free_port, wait_until_serving

    port = free_port()
    cmd = [sys.executable, "-m", "slotfill", "serve", f"ckpt={tiny_model_file}", f"port={port}", "auth_token=t0k"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"  # endpoints.yml: nlu: url: http://127.0.0.1:PORT, token: t0k

    async def rasa_parse(text: str, message_id: str, token: str) -> tuple[int, dict]:
        async with aiohttp.ClientSession() as session:
            params = {"token": token, "text": text, "message_id": message_id}
            async with session.post(url + "/model/parse", json=params) as resp:
                return resp.status, await resp.json(content_type=None)

    try:
        wait_until_serving(proc, url, timeout=60, poll=0.2)
        text = "i want to leave taipei and arrive in boston"
        status, answer = asyncio.run(rasa_parse(text, "8d3e", "t0k"))
        assert status == 200, answer
        assert answer["text"] == text and "message_id" not in answer
        assert isinstance(answer["intent"]["name"], str) and 0 <= answer["intent"]["confidence"] <= 1
        assert answer["intent_ranking"][0] == answer["intent"]
        assert all(set(r) == {"name", "confidence"} for r in answer["intent_ranking"])
        for e in answer["entities"]:
            assert {"entity", "value", "start", "end", "confidence_entity", "extractor"} <= set(e)
            assert text[e["start"] : e["end"]] == e["value"]
        assert asyncio.run(rasa_parse(text, "8d3f", "wrong"))[0] == 401
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.slow
def test_onnx_backend_serves_the_same_answers(tiny_model_file, backend):
    pytest.importorskip("onnxruntime")
    from slotfill.models.onnx_export import export_onnx, onnx_path_for
    from slotfill.models.slot_model import SlotModel

    graph = export_onnx(SlotModel.load(tiny_model_file), onnx_path_for(tiny_model_file))
    texts = ["i want to leave taipei", "arrive in new york, please"]
    with TestClient(create_app(load_backend(graph, "onnx"), LIMITS)) as onnx, TestClient(create_app(backend)) as eager:
        assert onnx.get("/version").json()["backend"] == "onnx" and onnx.get("/version").json()["precision"] == "fp32"
        a = onnx.post("/predict", json={"texts": texts}).json()
        b = eager.post("/predict", json={"texts": texts}).json()
        assert [r["tags"] for r in a] == [r["tags"] for r in b]
        assert onnx.post("/parse", json={"text": texts[0]}).json()["tags"] == b[0]["tags"]


def test_demo_page_is_served(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="text"' in page.text and "/parse" in page.text


# ------------------------------------------------------- the demo page, in a browser
SEED = "i want to leave taipei and arrive in boston"


@pytest.fixture
def live_server(trained_sample):
    """The app on a free localhost port, in a thread of this process."""
    import threading
    import time

    import uvicorn

    from tests.helpers import free_port

    backend = load_backend(trained_sample["model_file"])
    server = uvicorn.Server(uvicorn.Config(create_app(backend), host="127.0.0.1", port=free_port(), log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser():
    """Headless Chromium driven by Selenium (Debian's packages, installed by `make browser`)."""
    import shutil

    webdriver = pytest.importorskip("selenium.webdriver")
    chromium, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_bin):
        pytest.skip("no chromium/chromedriver: run `make browser` (Debian packages)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_bin))
    yield driver
    driver.quit()


@pytest.mark.slow
def test_demo_page_highlights_departure_and_arrival(live_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live_server + "/")
    # the example in the box is tagged on load, each span with its confidence in sight
    marks = WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.CSS_SELECTOR, "mark.entity"))
    shown = [m.find_element(By.CLASS_NAME, "confidence").text for m in marks]
    assert all(re.fullmatch(r"[01]\.\d\d", c) for c in shown), shown
    for m in marks:
        unsure = float(m.get_attribute("data-confidence")) < 0.5
        assert ("unsure" in m.get_attribute("class").split()) == unsure
    box = browser.find_element(By.ID, "text")
    box.clear()
    box.send_keys(SEED)
    browser.find_element(By.ID, "go").click()
    WebDriverWait(browser, 20).until(staleness_of(marks[0]))  # the answer to the click replaced them
    marks = WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.CSS_SELECTOR, "mark.entity"))
    found = {m.get_attribute("data-entity"): m.text.split("\n")[0] for m in marks}
    assert found.get("fromloc.city_name", "").startswith("taipei"), found
    assert found.get("toloc.city_name", "").startswith("boston"), found
    colours = {m.value_of_css_property("background-color") for m in marks}
    assert len(colours) >= 1 and "rgba(0, 0, 0, 0)" not in colours  # highlighted
    assert browser.find_element(By.ID, "intent-name").text
    rows = browser.find_elements(By.CSS_SELECTOR, "#tokens tr")
    assert len(rows) == len(SEED.split()) + 1
    # an emoji first: the answer's offsets count it as one character, a JS string as two units
    browser.execute_script("document.getElementById('text').value = arguments[0]", "\U0001f600 " + SEED)
    browser.find_element(By.ID, "go").click()
    WebDriverWait(browser, 20).until(staleness_of(marks[0]))
    marks = WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.CSS_SELECTOR, "mark.entity"))
    text_of = "return arguments[0].firstChild.textContent"  # the highlighted words, before label and confidence
    found = {m.get_attribute("data-entity"): browser.execute_script(text_of, m) for m in marks}
    assert found.get("fromloc.city_name") == "taipei" and found.get("toloc.city_name") == "boston", found


@pytest.mark.slow
def test_the_api_page_lists_every_endpoint_and_sends_requests(live_server, browser):
    import httpx
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live_server + "/docs")
    ops = WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.CSS_SELECTOR, "section.op"))
    listed = {(op.get_attribute("data-method"), op.get_attribute("data-path")) for op in ops}
    spec = httpx.get(live_server + "/openapi.json").json()
    assert listed == {(m, p) for p, methods in spec["paths"].items() for m in methods}
    parse = next(op for op in ops if op.get_attribute("data-path") == "/parse")
    assert "text" in parse.find_element(By.TAG_NAME, "table").text  # the request's fields
    box = parse.find_element(By.TAG_NAME, "textarea")
    box.clear()
    box.send_keys(json.dumps({"text": SEED}))
    parse.find_element(By.TAG_NAME, "button").click()
    answer = WebDriverWait(browser, 20).until(
        lambda b: (t := parse.find_element(By.CSS_SELECTOR, "pre.answer").text).startswith("200") and t
    )
    assert json.loads(answer.split("\n", 1)[1])["tokens"] == SEED.split()


def test_a_lone_surrogate_is_a_422_not_a_500(client):
    """JSON allows the escape "\\ud800" alone; it is no Unicode character, so no answer can be serialised."""
    for path, body in (
        ("/parse", '{"text": "from \\ud800 boston"}'),
        ("/predict", '{"texts": ["ok", "\\udfff"]}'),
    ):
        resp = client.post(path, content=body, headers={"content-type": "application/json"})
        message = _error(resp, 422)
        assert "lone surrogate" in message, message


def test_min_confidence_drops_the_unsure_entities_per_request_or_by_default(backend):
    text = "i want to leave taipei and arrive in boston on monday"
    with TestClient(create_app(backend, LIMITS, max_batch=8, max_wait_ms=1)) as c:
        every = c.post("/model/parse", json={"text": text}).json()["entities"]
        assert len({e["confidence"] for e in every}) >= 2, "the tiny model must give spans of several confidences"
        cut = sorted(e["confidence"] for e in every)[len(every) // 2]
        kept = c.post("/model/parse", json={"text": text, "min_confidence": cut}).json()["entities"]
        assert kept == [e for e in every if e["confidence"] >= cut] and len(kept) < len(every)
        records = c.post("/predict", json={"texts": [text], "min_confidence": cut}).json()
        assert len(records[0]["spans"]) == len(kept) and len(records[0]["dropped"]) == len(every) - len(kept)
        for bad in (1.5, -0.1, "high"):
            assert "min_confidence" in _error(c.post("/model/parse", json={"text": text, "min_confidence": bad}), 422)
    with TestClient(create_app(backend, LIMITS, max_batch=8, max_wait_ms=1, min_confidence=cut)) as c:
        assert c.post("/model/parse", json={"text": text}).json()["entities"] == kept  # the server's default
        assert c.post("/model/parse", json={"text": text, "min_confidence": 0}).json()["entities"] == every


def test_nbest_answers_alternative_entity_sets_first_the_answer(client):
    text = "i want to leave taipei and arrive in boston"
    plain = client.post("/model/parse", json={"text": text}).json()
    assert "nbest" not in plain
    body = client.post("/model/parse", json={"text": text, "nbest": 3}).json()
    assert {k: v for k, v in body.items() if k != "nbest"} == plain
    alts = body["nbest"]
    assert 1 <= len(alts) <= 3
    assert [(e["entity"], e["start"], e["end"]) for e in alts[0]["entities"]] == [
        (e["entity"], e["start"], e["end"]) for e in plain["entities"]
    ]
    probs = [a["probability"] for a in alts]
    assert probs == sorted(probs, reverse=True)
    records = client.post("/predict", json={"sentences": [text.split()], "nbest": 2}).json()
    assert 1 <= len(records[0]["nbest"]) <= 2
    for bad in (0, 21, "two"):
        assert "nbest" in _error(client.post("/model/parse", json={"text": text, "nbest": bad}), 422)


def test_body_limit_counts_the_clients_that_posted_lately(monkeypatch):
    import asyncio
    import itertools

    from slotfill.serving import limits

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        pass

    outer = limits.BodyLimit(app, 1000)
    for port in (1, 2, 2, 3):
        asyncio.run(
            outer({"type": "http", "method": "POST", "client": ("127.0.0.1", port), "headers": []}, receive, send)
        )
    assert outer.clients() == 3 and outer.active == 0
    now = limits.time.monotonic()
    monkeypatch.setattr(limits.time, "monotonic", lambda: now + limits.RECENT_S + 0.01)
    assert outer.clients() == 0  # all of them quiet since

    monkeypatch.setattr(limits, "MAX_SEEN", 2)  # under steady load the quiet ones are forgotten as new ones post
    clock = itertools.count(now + 10)  # a second between posts: each earlier one is quiet by then
    monkeypatch.setattr(limits.time, "monotonic", lambda: next(clock))
    for port in range(4, 10):
        asyncio.run(
            outer({"type": "http", "method": "POST", "client": ("127.0.0.1", port), "headers": []}, receive, send)
        )
    assert len(outer._seen) <= 3


@pytest.mark.parametrize(
    "text, intent, confidence, entities",
    [
        ("/restart", "restart", 1.0, []),
        (" /flight", "flight", 1.0, []),
        ('/airfare{"city": "boston"}', "airfare", 1.0, [{"entity": "city", "value": "boston", "start": 8, "end": 26}]),
        ("/flight+airfare", "flight+airfare", 1.0, []),  # a set of intents, as Rasa names it
        ('/airfare@0.5{"city": ["a", "b"]}', "airfare", 0.5, [("city", "a"), ("city", "b")]),
        ("/airfare{not json}", "airfare", 1.0, []),  # as Rasa: answered, the entities left out (a warning logged)
        ('/airfare{"x": NaN}', "airfare", 1.0, []),  # not JSON: an answer could not carry it
        ('/airfare{"x": 1e999}', "airfare", 1.0, []),  # a float's infinity: a 500 before, the answer unwritable
        ("/flight@nan", "flight", 1.0, []),
        ("/flight@inf", "flight", 1.0, []),
        ("/flight@7", "flight", 1.0, []),  # not a probability
        ("/flight@.25", "flight", 0.25, []),
    ],
)
def test_a_message_that_names_its_intent_is_answered_as_rasa_answers_it(client, text, intent, confidence, entities):
    body = client.post("/model/parse", json={"text": text, "message_id": "m1"}).json()
    assert body["intent"] == {"name": intent, "confidence": confidence} and body["intent_ranking"] == [body["intent"]]
    assert body["text"] == text and "message_id" not in body and body["tokens"] == []
    assert body["response_selector"] == {"all_retrieval_intents": []}
    got = (
        body["entities"]
        if entities and isinstance(entities[0], dict)
        else [(e["entity"], e["value"]) for e in body["entities"]]
    )
    assert got == entities


def test_a_button_for_an_intent_only_the_bots_domain_has_is_answered_as_named(client):
    """Rasa's HTTP interpreter sends every message, /affirm of a button among them: no domain to check here."""
    body = client.post("/model/parse", json={"text": '/affirm{"plan": "pro"}'}).json()
    assert body["intent"] == {"name": "affirm", "confidence": 1.0} and body["entities"][0]["value"] == "pro"


def test_message_id_is_any_json_value_and_unused(client):
    assert client.post("/model/parse", json={"text": "to boston", "message_id": 17}).status_code == 200


def test_text_that_only_starts_with_a_slash_is_tagged(client):
    body = client.post("/model/parse", json={"text": "/ fly to boston"}).json()
    assert body["tokens"] and body["intent"]["name"] != "/"


def test_entities_nested_deeper_than_the_json_parser_goes_are_left_out():
    from slotfill.serving.schemas import intent_message

    deep = '/inform{"x": ' + "[" * 5000 + "]" * 5000 + "}"
    assert intent_message(deep)["entities"] == []  # not a RecursionError: the server's 500


def test_alternatives_over_the_cost_budget_are_413_before_the_model_runs(backend):
    limits = Limits(max_body_bytes=20_000, max_text_chars=100, max_batch=8, max_tokens=10, max_nbest_chars=60)
    with TestClient(create_app(backend, limits)) as c:
        text = "flights from boston to denver"  # 29 characters
        assert "nbest" in c.post("/parse", json={"text": text, "nbest": 2}).json()  # 58: inside
        assert "at most 60" in _error(c.post("/parse", json={"text": text, "nbest": 3}), 413)
        assert c.post("/predict", json={"texts": [text] * 8}).status_code == 200  # no alternatives: no budget
        _error(c.post("/predict", json={"texts": [text, text], "nbest": 2}), 413)
        _error(c.post("/predict", json={"sentences": [text.split()] * 2, "nbest": 2}), 413)
        calls = c.get("/health").json()
        assert (calls["batches"], calls["sentences"]) == (2, 9)  # the nbest request counted too


@pytest.mark.parametrize("body", [{"nbest": True}, {"nbest": "2"}, {"min_confidence": "0.5"}, {"nbest": 2.0}])
def test_a_value_of_the_wrong_type_is_422_not_read_as_another(client, body):
    _error(client.post("/parse", json={"text": "to boston", **body}), 422)
    _error(client.post("/predict", json={"texts": ["to boston"], **body}), 422)


@pytest.mark.parametrize(
    "content", [b'{"text": "\xff"}', b"[" * 100_000 + b"]" * 100_000, b'{"text": "a", "nbest": ' + b"9" * 5000 + b"}"]
)
def test_a_body_json_cannot_read_says_so(backend, content):
    with TestClient(create_app(backend)) as c:
        resp = c.post("/parse", content=content, headers={"content-type": "application/json"})
        assert _error(resp, 400) == "malformed JSON body (not UTF-8, nested too deep, or a number too long)"
