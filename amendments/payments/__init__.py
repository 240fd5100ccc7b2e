"""Who moves the money the Orders API records: the payments port (`port`: the protocol and
`RecordOnly`, which moves nothing) and its Dintero Checkout implementation (`checkout/`: the
Checkout client, the adapter, the callback receiver and the callback signature)."""
