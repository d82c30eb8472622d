"""Where CA private keys live: sealed in the database (dev) or on a PKCS#11 token."""
