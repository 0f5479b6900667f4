"""What an asset and the facade both call: read through the store, one domain step, write back."""
