"""The Temporal side every process speaks, below the workflows: the data converter and payload
encryption (`codec`), connecting a client (`connection`), the search attributes and metrics the
workflows publish (`search_attributes`, `metrics`), and leaving a process that used a client
(`process`). Nothing here imports a workflow or an activity: the worker that runs them is put
together one floor up, in `amendments.worker`."""
