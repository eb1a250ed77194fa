"""The page of graphrun serve in a real headless Chromium, through SPEC §6's contract:
data-input, data-node/data-value/data-grad, data-output, data-grad-of, data-error,
data-action, data-control, and the quiz's data-answer/data-correct."""
import json
import math
import os
import shutil
import statistics
import time

import numpy as np
import pytest

from browser import Page, needs_browser
from graphdsl.inspect.numbers import format_number
from graphdsl.inspect.render import find_dot
from serving import post, running

pytestmark = [needs_browser, pytest.mark.skipif(find_dot() is None, reason="Graphviz's dot is not installed")]
SEED = ["mul_add", "sin_product", "backward_patterns", "sigmoid_neuron", "sigmoid_gate", "vector_norm",
        "logistic_map"]


@pytest.fixture
def open_page(chromium):
    pages = []

    def opener(url):
        page = Page(chromium, url)
        pages.append(page)
        return page

    yield opener
    for page in pages:
        assert page.errors == []
        page.close()


def number(text):
    return json.loads(text) if text not in ("NaN", "Infinity", "-Infinity") else float(text)


def ran(server, body):
    """/api/run's answer, with the text of every number on the picture."""
    status, data = post(server, "/api/run", {**body, "labels": True})
    assert status == 200
    return data


def picture_texts(page):
    """``[(slot, line, text)]`` of every number on the picture."""
    return page.page.eval_on_selector_all(
        ".gd-picture tspan[data-slot]", "els => els.map(e => [e.dataset.slot, Number(e.dataset.line), e.textContent])")


def lines_of(page, selector):
    """The texts of an element of the picture (its <title> and <text>s), one by one."""
    return page.page.eval_on_selector_all(f"{selector} title, {selector} text", "els => els.map(e => e.textContent)")


def assert_page_shows(page, data):
    """Every node's data-value and data-grad, every output and gradient, and every number
    on the picture, as /api/run says."""
    values = page.attributes("[data-node]", "data-value")
    grads = page.attributes("[data-node]", "data-grad")
    assert set(values) == set(data["values"])
    for node, value in data["values"].items():
        np.testing.assert_array_equal(number(values[node]), value)
        if node in data["node_grads"]:
            np.testing.assert_array_equal(number(grads[node]), data["node_grads"][node])
    for name, value in data["outputs"].items():
        np.testing.assert_array_equal(number(page.page.text_content(f'[data-output="{name}"]')), value)
    for name, value in data["gradients"].items():
        np.testing.assert_array_equal(number(page.page.text_content(f'[data-grad-of="{name}"]')), value)
    texts = picture_texts(page)
    assert texts and {slot for slot, _, _ in texts} == set(data["labels"])
    for slot, line, text in texts:
        assert text == data["labels"][slot][line], slot


def latency(page, name, text, output):
    """Milliseconds from dispatching `change` to the output's new number in the page."""
    return page.page.evaluate(
        """async ([name, text, output]) => {
            const field = document.querySelector(`[data-input="${name}"]`);
            const shown = document.querySelector(`[data-output="${output}"]`);
            const before = shown.textContent;
            const changed = new Promise((resolve) => {
                const watch = new MutationObserver(() => {
                    if (shown.textContent !== before) { watch.disconnect(); resolve(); }
                });
                watch.observe(shown, { childList: true, characterData: true, subtree: true });
            });
            const start = performance.now();
            field.value = text;
            field.dispatchEvent(new Event("change", { bubbles: true }));
            await changed;
            return performance.now() - start;
        }""", [name, text, output])


def changes(start: str):
    """Seven new values for a field that holds ``start``, of the same shape."""
    if not start.startswith("["):
        return [str(step / 4) for step in range(1, 8)]
    value = json.loads(start)
    return [json.dumps((np.asarray(value) + step / 8).tolist()) for step in range(1, 8)]


@pytest.mark.parametrize("example", SEED + ["logistic_regression", "softmax_classifier", "two_layer_net"])
def test_a_change_updates_every_number_within_100_ms(open_page, example):
    with running(f"examples/{example}.graph") as server:
        page = open_page(server.url)
        assert_page_shows(page, ran(server, {}))
        fields = page.page.eval_on_selector_all("[data-input]", "els => els.map(e => [e.dataset.input, e.value])")
        leaf, start = next(((n, v) for n, v in fields if not v.startswith("[")), fields[0])
        output = page.page.get_attribute("[data-output]", "data-output")
        times = []
        for text in changes(start):
            times.append(latency(page, leaf, text, output))
            page.settled(None)
        inputs = {leaf: json.loads(text)}
        assert_page_shows(page, ran(server, {"inputs": inputs}))
        print(f"\n{example}: change -> every number shown: median {statistics.median(times):.1f} ms, "
              f"max {max(times):.1f} ms over {len(times)} changes")
        assert statistics.median(times) < 100


def test_the_lecture_example_by_hand(open_page):
    with running("examples/mul_add.graph") as server:
        page = open_page(server.url)
        page.change("x", "3")
        assert page.page.get_attribute('[data-node="z"]', "data-grad") == "8"
        assert page.page.get_attribute('[data-node="x"]', "data-value") == "3"
        assert page.page.text_content('[data-output="f"]') == "-32"
        assert page.page.text_content('[data-grad-of="z"]') == "8"
        box = page.page.text_content('[data-node="z"]')
        assert "df/dz = 8" in box  # the number on the picture itself
        page.change("y", "nan")
        assert page.page.text_content('[data-output="f"]') == "NaN"
        assert page.page.get_attribute('[data-node="q"]', "data-value") == "NaN"


def test_a_slider_moves_the_numbers(open_page):
    with running("examples/sin_product.graph") as server:
        page = open_page(server.url)
        before = page.runs()
        page.page.locator('[data-slider="x1"]').fill("1.5")
        page.settled(before)
        assert page.page.input_value('[data-input="x1"]') == "1.5"
        assert_page_shows(page, ran(server, {"inputs": {"x1": 1.5}}))


def test_arrays_a_json_field_each(open_page):
    with running("examples/vector_norm.graph") as server:
        page = open_page(server.url)
        page.change("W", "[[1, 2], [3, 4]]")
        page.change("x", "[1, -1]")
        assert page.page.text_content('[data-grad-of="x"]') == "[-8,-12]"
        assert_page_shows(page, ran(server, {"inputs": {"W": [[1, 2], [3, 4]], "x": [1, -1]}}))
        page.page.fill('[data-input="x"]', "[1, oops]")
        page.page.dispatch_event('[data-input="x"]', "change")
        assert "x: is not a JSON array" in page.page.text_content("[data-error]")
        page.change("x", "[1, 2, 3]")  # a wrong shape: the server's message, the last numbers kept
        error = page.page.text_content("[data-error]")
        assert "x" in error and "[2]" in error and "[3]" in error
        assert page.page.text_content('[data-grad-of="x"]') == "[-8,-12]"
        page.change("x", "[1, -1]")
        assert page.page.text_content("[data-error]") == ""


def test_the_output_selector(open_page):
    with running("examples/logistic_regression.graph") as server:
        page = open_page(server.url)
        before = page.runs()
        page.page.select_option('[data-control="of"]', "f")
        page.settled(before)
        data = ran(server, {"of": "f"})
        assert_page_shows(page, data)
        assert page.page.text_content('[data-grad-of="w0"]') == json.dumps(data["gradients"]["w0"])


def test_step_and_reset(open_page):
    with running("examples/logistic_regression.graph") as server:
        page = open_page(server.url)
        start = ran(server, {})
        page.page.fill('[data-control="lr"]', "0.5")
        page.click("step")
        stepped = {name: start["values"][name] - 0.5 * start["gradients"][name] for name in ("w0", "w1", "w2")}
        for name, value in stepped.items():
            assert float(page.page.input_value(f'[data-input="{name}"]')) == value
        assert_page_shows(page, ran(server, {"inputs": stepped}))
        assert float(page.page.text_content('[data-output="loss"]')) < start["outputs"]["loss"]
        page.click("reset")
        assert page.page.input_value('[data-input="w0"]') == "2"
        assert_page_shows(page, start)


def test_reset_returns_to_the_command_lines_values(open_page, tmp_path):
    with running("examples/mul_add.graph", start={"x": 1.0}) as server:
        page = open_page(server.url)
        assert page.page.input_value('[data-input="x"]') == "1"
        page.change("x", "7")
        page.click("reset")
        assert page.page.input_value('[data-input="x"]') == "1"
        assert page.page.text_content('[data-output="f"]') == "-24"


def test_the_gradient_check_button(open_page):
    with running("examples/sigmoid_gate.graph") as server:
        page = open_page(server.url)
        page.page.click('[data-action="check-gradients"]')
        page.page.wait_for_selector("[data-check-result][data-ok]")
        result = page.page.locator("[data-check-result]")
        assert result.get_attribute("data-ok") == "true"
        assert "largest relative error" in result.text_content()
        assert float(result.get_attribute("data-max-rel-error")) < 1e-5


def test_each_explain_step_highlights_its_edge(open_page):
    with running("examples/sin_product.graph") as server:
        page = open_page(server.url)
        steps = post(server, "/api/run", {"explain": True})[1]["explain"]
        buttons = page.page.locator(".gd-step")
        assert buttons.count() == len(steps)
        for i, step in enumerate(steps):
            buttons.nth(i).click()
            lit = page.page.eval_on_selector_all(
                "g.gd-hl[data-from]", "els => els.map(e => [e.dataset.from, e.dataset.to, e.dataset.operand])")
            if step["node"] is None:
                assert lit == [["f", "output f", None]]
            else:
                assert lit == [[step["target"], step["node"], str(step["operand"])]]
            assert buttons.nth(i).text_content() == step["text"]
        page.page.click('[data-action="previous"]')
        assert page.page.locator(".gd-step.gd-active").get_attribute("data-step") == str(len(steps) - 2)


def test_each_step_through_a_port_lights_the_port_too(open_page):
    with running("examples/logistic_map.graph") as server:
        page = open_page(server.url)
        steps = post(server, "/api/run", {"explain": True})[1]["explain"]
        entering = [i for i, step in enumerate(steps) if step["target"] == "x"]
        assert entering
        for i in entering:
            page.page.locator(".gd-step").nth(i).click()
            lit = page.page.eval_on_selector_all("g.gd-hl[id]", "els => els.map(e => e.id)")
            step = steps[i]
            assert set(lit) == {f"edge:x->{step['node']}:{step['operand']}", "edge:x->port:f@1:x", "port:f@1:x",
                                "node:x", f"node:{step['node']}"}


SUMMARY = "input x = [1, 2, 3, 4, 5, 6]\noutput f = sum(x * x)"


def test_a_large_arrays_summary_changes_in_place(open_page):
    import graphdsl

    with running(graphdsl.loads(SUMMARY)) as server:
        page = open_page(server.url)
        page.page.evaluate("document.querySelector('.gd-picture svg').dataset.first = 'yes'")
        page.change("x", "[-3, 0.5, 2, 2, 2, 7]")
        assert page.page.get_attribute(".gd-picture svg", "data-first") == "yes"  # not drawn anew
        box = lines_of(page, '[data-node="x"]')
        assert box == ["x", "x", " = [6]: -3, 0.5, 2, …", "min -3, max 7", "df/dx = [6]: -6, 1, 4, …",
                       "min -6, max 14"]  # its title, then its label
        assert_page_shows(page, ran(server, {"inputs": {"x": [-3, 0.5, 2, 2, 2, 7]}}))


SIZE = """() => { const svg = document.querySelector('.gd-picture svg'), frame = svg.parentNode;
    const box = svg.getBoundingClientRect(), view = svg.viewBox.baseVal;
    return [box.width, box.height, view.width * 4 / 3, view.height * 4 / 3, frame.scrollWidth > frame.clientWidth]; }"""


@pytest.mark.parametrize("example, scrolls", [("mul_add", False), ("two_layer_net", True)])
def test_the_fitted_picture_is_scaled_as_a_whole(open_page, example, scrolls):
    with running(f"examples/{example}.graph") as server:
        page = open_page(server.url)
        width, height, natural_width, natural_height, scrolled = page.page.evaluate(SIZE)
        scale = width / natural_width
        assert 0.745 <= scale <= 1.505 and abs(height / natural_height - scale) < 0.01  # no blank margins
        assert scrolled == scrolls  # a small graph grows to fit; a large one stays readable, and scrolls
        if not scrolls:  # a narrower window: the picture follows
            page.page.set_viewport_size({"width": 1000, "height": 950})
            page.page.wait_for_function("([w]) => document.querySelector('.gd-picture svg')"
                                        ".getBoundingClientRect().width < w", arg=[width])
            assert page.page.evaluate(SIZE)[4] is False
        page.click("zoom", settle=False)
        assert page.page.evaluate(SIZE)[:2] == pytest.approx([natural_width, natural_height], abs=1)


CENTRES = """() => [...document.querySelectorAll('.gd-picture tspan[data-slot]')].map((span) => {
    const box = span.parentNode.getBBox();
    return [span.dataset.slot, span.parentNode.getAttribute('text-anchor'), box.x + box.width / 2];
})"""


def test_a_number_of_another_width_stays_centred_where_the_first_was(open_page):
    with running("examples/sin_product.graph") as server:
        page = open_page(server.url)
        before = page.page.evaluate(CENTRES)
        page.change("x1", "-1.23456789")
        after = page.page.evaluate(CENTRES)
        assert [slot for slot, _, _ in after] == [slot for slot, _, _ in before]
        moved = [(b, a) for b, a in zip(before, after) if a[1] == "middle"]
        assert len(moved) > len(after) / 2  # the lines of edges and gradients; "= 2" after a name keeps its start
        for (slot, _, was), (_, _, now) in moved:
            assert abs(now - was) < 0.5, slot
        assert page.page.text_content('[data-slot="e:b:0"]') == format_number(math.cos(-1.23456789))


def test_numbers_written_on_other_lines_than_the_picture_has_draw_it_anew(open_page, monkeypatch):
    from graphdsl.serve import session

    drawn, sent = [], []

    def counted(*args):
        drawn.append(args)
        return session_draw(*args)

    def longer(*args):  # from the second run on, the value of x takes two lines
        lines = session_labels(*args)
        sent.append(lines)
        if len(sent) > 1:
            lines["v:x"] = lines["v:x"] + ["another line"]
        return lines

    session_draw, session_labels = session.draw, session.labels
    monkeypatch.setattr(session, "draw", counted)
    monkeypatch.setattr(session, "labels", longer)
    with running("examples/mul_add.graph") as server:
        page = open_page(server.url)
        page.change("x", "3")
        assert len(drawn) == 2
        assert page.page.get_attribute('[data-node="z"]', "data-grad") == "8"
        assert "df/dz = 8" in page.page.text_content('[data-node="z"]')


def test_quiz_hides_the_gradients_and_marks_answers(open_page):
    with running("examples/sigmoid_neuron.graph", quiz=True) as server:
        page = open_page(server.url)
        data = post(server, "/api/run", {})[1]
        assert set(page.attributes("[data-node]", "data-grad").values()) == {""}
        assert page.page.text_content('[data-grad-of="x0"]') == "?"
        assert "0.393224" not in page.page.inner_text(".gd-picture")
        assert not page.page.is_visible(".gd-explain")
        answers = page.page.locator("[data-answer]")
        assert answers.count() == len(data["node_grads"])
        wrong = {"x0", "f"}
        for node, grad in data["node_grads"].items():
            answer = grad * (1.01 if node in wrong else 1.0002)  # 1% off is wrong, 0.02% right
            page.page.fill(f'[data-answer="{node}"]', str(answer))
        page.page.fill('[data-answer="w1"]', "")
        page.click("check", settle=False)
        marks = {node: page.page.get_attribute(f'[data-answer="{node}"]', "data-correct")
                 for node in data["node_grads"]}
        assert marks == {node: "false" if node in wrong | {"w1"} else "true" for node in data["node_grads"]}
        page.click("reveal", settle=False)
        grads = page.attributes("[data-node]", "data-grad")
        assert float(grads["x0"]) == data["node_grads"]["x0"]
        assert "0.393224" in page.page.inner_text(".gd-picture") and page.page.is_visible(".gd-explain")


def test_quiz_hides_a_summarised_gradient_too(open_page):
    import graphdsl

    with running(graphdsl.loads(SUMMARY), quiz=True) as server:
        page = open_page(server.url)
        assert lines_of(page, '[data-node="x"]')[4:] == ["df/dx = ?", ""]
        assert {text for slot, _, text in picture_texts(page) if not slot.startswith("v:")} == {"?", ""}
        page.click("reveal", settle=False)
        assert lines_of(page, '[data-node="x"]')[4:] == ["df/dx = [6]: 2, 4, 6, …", "min 2, max 12"]


def test_quiz_answers_of_a_new_exercise(open_page):
    with running("examples/mul_add.graph", quiz=True) as server:
        page = open_page(server.url)
        page.change("x", "1")
        grads = post(server, "/api/run", {"inputs": {"x": 1}})[1]["node_grads"]
        for node, grad in grads.items():
            page.page.fill(f'[data-answer="{node}"]', json.dumps(grad))
        page.click("check", settle=False)
        assert set(page.attributes("[data-answer]", "data-correct").values()) == {"true"}


def test_an_editor_save_updates_the_page_and_a_broken_save_keeps_the_picture(open_page, tmp_path):
    path = tmp_path / "model.graph"
    shutil.copy("examples/mul_add.graph", path)
    with running(path) as server:
        page = open_page(server.url)
        runs = page.runs()
        path.write_text(path.read_text().replace("f = q * z", "f = q * z * z"))
        saved = time.monotonic()
        page.settled(runs)
        assert time.monotonic() - saved < 1.0
        assert page.page.text_content('[data-output="f"]') == "48"
        before_picture = page.page.inner_html(".gd-picture")
        path.write_text(path.read_text() + "oops = x ^ 2\n")
        saved = time.monotonic()
        page.page.wait_for_function("document.querySelector('[data-error]').textContent !== ''")
        assert time.monotonic() - saved < 1.0
        error = page.page.text_content("[data-error]")
        assert error.startswith(f"{path}:6:10: error: '^' is not an operator here") and error.endswith("^")
        assert page.page.inner_html(".gd-picture") == before_picture
        assert page.page.get_attribute('[data-node="z"]', "data-grad") == "-24"
        runs = page.runs()
        path.write_text("input x = 1, y = 2\noutput g = x * y\n")
        page.settled(runs)
        assert page.page.text_content("[data-error]") == ""
        assert page.page.text_content('[data-output="g"]') == "2"
        assert page.page.get_attribute('[data-node="x"]', "data-grad") == "2"
        assert page.page.locator('[data-node="q"]').count() == 0


def test_the_model_file_is_not_written_by_a_session(open_page, tmp_path):
    path = tmp_path / "model.graph"
    shutil.copy("examples/logistic_regression.graph", path)
    before = (path.read_bytes(), os.stat(path).st_mtime_ns)
    with running(path) as server:
        page = open_page(server.url)
        page.click("step")
        page.change("x0", "3")
        page.click("reset")
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before
    assert os.listdir(tmp_path) == ["model.graph"]


def test_a_picture_whose_numbers_were_not_all_found_is_drawn_anew_each_time(open_page, monkeypatch):
    from graphdsl.serve import session

    drawn = []

    def incomplete(*args):
        drawn.append(args)
        return session_draw(*args)[0], False

    session_draw = session.draw
    monkeypatch.setattr(session, "draw", incomplete)
    with running("examples/mul_add.graph") as server:
        page = open_page(server.url)
        page.change("x", "3")
        page.change("x", "4")
        assert len(drawn) == 3
        assert "df/dz = 9" in page.page.text_content('[data-node="z"]')
        assert_page_shows(page, ran(server, {"inputs": {"x": 4}}))


def test_without_graphviz_the_page_works_with_numbers(open_page, monkeypatch):
    from graphdsl.serve import picture

    monkeypatch.setattr(picture, "find_dot", lambda: None)
    with running("examples/mul_add.graph") as server:
        page = open_page(server.url)
        assert "needs Graphviz" in page.page.text_content(".gd-picture")
        page.change("x", "3")
        assert page.page.text_content('[data-output="f"]') == "-32"
        assert page.page.text_content('[data-grad-of="z"]') == "8"
        assert page.page.locator(".gd-step").count() == 5  # the seed and four edges
