"""`PAYMENTS=dintero-checkout`: Dintero Checkout's API as its published spec describes it
(`client`), the payments adapter over it (`adapter`), the receiver of its callbacks
(`receiver`, served by `amend callbacks`) and the `Dintero-Signature` they carry
(`signature`)."""
