"""Text for people, in one place: the words (`words`: the UI's summaries and details, the CLI's
and the demo's lines), the tables (`tables`) and where they are printed (`console`: standard
output and standard error, readable or one JSON document). No other module prints for people."""
