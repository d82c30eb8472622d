"""The device agent: attests a TPM and keeps an mTLS certificate current."""
