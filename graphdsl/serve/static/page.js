// The page of `graphrun serve`: the shared view, talking HTTP to the server.
import { mount, httpTransport } from "./view.js";

mount(document.getElementById("graphdsl"), httpTransport("/"), { title: true });
