from bagu2anki.cli import main

main()
