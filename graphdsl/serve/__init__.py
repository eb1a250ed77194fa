"""The interactive view of a model: ``graphrun serve`` (a page in a browser) and
``graphdsl.widget`` (the same view in Jupyter).

session.py answers the page's requests whatever carries them; httpd.py carries them
over HTTP, widget.py over a Jupyter comm; picture.py annotates Graphviz's SVG;
static/ is the front end, shared by the page and the widget. Nothing in graphdsl's
core imports this package.
"""
