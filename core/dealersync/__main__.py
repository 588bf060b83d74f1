from dealersync.cli import main

main()
