"""Tools for the people who run the product: `amend conformance` (`conformance/`: every
assumption about Dintero probed against a real test account), the codec server the Temporal UI
decodes payloads through (`codec_server`) and the JSON Schemas of the contracts (`schemas`)."""
