// The module's exports: mount() for the page (page.js), render() for anywidget.
export { mount, httpTransport, widgetTransport };

export default {
  render({ model, el }) {
    const transport = widgetTransport(model);
    const view = mount(el, transport, {});
    return () => {
      view.stop();
      transport.close();
    };
  },
};
