from nncli.cli import main

main()
