"""OpenVLA adapter: loading, preprocessing, action decoding, the policy."""
