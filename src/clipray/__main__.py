from clipray.cli import main

main()
