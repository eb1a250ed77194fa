// How the view reaches graphdsl: HTTP to `graphrun serve`, or a Jupyter widget's comm.
// Both answer call(kind, body) with {status, data}: kind "model" (body {since}),
// "run" (POST /api/run) or "picture" (POST /api/picture).

function httpTransport(base = "") {
  return {
    async call(kind, body) {
      const request = kind === "model"
        ? fetch(`${base}api/model${body.since == null ? "" : `?since=${encodeURIComponent(body.since)}`}`,
                { cache: "no-store" })
        : fetch(`${base}api/${kind}`, {
            method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
          });
      let response;
      try {
        response = await request;
      } catch (err) {
        return { status: 0, data: { error: "the server does not answer (was graphrun serve stopped?)" } };
      }
      let data;
      try {
        data = await response.json();
      } catch (err) {
        data = { error: `the server answered ${response.status} without JSON` };
      }
      return { status: response.status, data };
    },
  };
}

// anywidget's model: requests go out as custom messages {id, kind, body} and come
// back as {id, status, data}.
function widgetTransport(model) {
  const pending = new Map();
  const prefix = Math.random().toString(36).slice(2);  // one notebook may show a view twice
  let next = 0;
  const listener = (message) => {
    const resolve = pending.get(message && message.id);
    if (resolve) {
      pending.delete(message.id);
      resolve({ status: message.status, data: message.data });
    }
  };
  model.on("msg:custom", listener);
  return {
    call(kind, body) {
      next += 1;
      const id = `${prefix}-${next}`;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        model.send({ id, kind, body });
      });
    },
    close() {
      model.off("msg:custom", listener);
    },
  };
}
