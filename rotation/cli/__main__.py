from rotation.cli import main

main()
