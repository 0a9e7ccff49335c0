"""The bundle format (WinZip AES zip) and the one engine that seals and unseals it."""
